using System.Globalization;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// A doorbell on a UIO device: the peer's ring is the device interrupt (read the 4-byte interrupt
/// count from /dev/uioX, then write a 4-byte 1 to re-enable it, which acknowledges it); our ring is a
/// 32-bit write to a mailbox register (<see cref="UioMailbox"/>), refused at once when the mailbox
/// reports "full".
/// </summary>
public sealed unsafe class UioDoorbell : FileDescriptorDoorbell
{
    /// <summary>Where the kernel lists UIO devices.</summary>
    public const string DefaultSysfsRoot = "/sys/class/uio";

    private readonly FileDescriptor _device;
    private readonly UioMailbox? _mailbox;
    private uint _interruptCount;

    private UioDoorbell(FileDescriptor device, string devicePath, string deviceName, UioMailbox? mailbox) : base(devicePath)
    {
        _device = device;
        _mailbox = mailbox;
        DevicePath = devicePath;
        DeviceName = deviceName;
    }

    /// <summary>Path of the device node (or what stands in for it).</summary>
    public string DevicePath { get; }

    /// <summary>The UIO name from sysfs (the driver's name for the device).</summary>
    public string DeviceName { get; }

    /// <summary>The total interrupt count the device reported last (0 before the first interrupt).</summary>
    public uint InterruptCount => Volatile.Read(ref _interruptCount);

    /// <summary>
    /// Opens UIO device <paramref name="device"/> ("uio0" or "/dev/uio0") and enables its interrupt.
    /// Without a <paramref name="mailbox"/> the doorbell can only wait; Ring returns false.
    /// </summary>
    /// <exception cref="UioDeviceNotFoundException">The sysfs entry or the device node does not exist.</exception>
    public static UioDoorbell Open(string device, UioMailbox? mailbox = null, string sysfsRoot = DefaultSysfsRoot, string? devicePath = null)
    {
        var (uioName, path) = Resolve(device, devicePath);
        string deviceName = ReadName(sysfsRoot, uioName);
        int r = Native.Open(path, Native.OpenReadWrite, out int raw);
        if (r == -Errno.ENOENT || r == -Errno.ENODEV || r == -Errno.ENXIO)
            throw new UioDeviceNotFoundException(path, $"(device node of {uioName}) cannot be opened: {Errno.Describe(-r)}.", new NativeCallException("open", path, -r));
        NativeCallException.ThrowIfError(r, "open", path);
        return Start(new FileDescriptor(raw), path, deviceName, mailbox);
    }

    /// <summary>
    /// Like <see cref="Open"/>, but on a descriptor standing in for the device node (tests: one end of a
    /// socketpair); the sysfs tree under <paramref name="sysfsRoot"/> is still checked. Takes ownership of
    /// <paramref name="standIn"/>.
    /// </summary>
    internal static UioDoorbell OpenWithStandIn(string device, UioMailbox? mailbox, string sysfsRoot, FileDescriptor standIn, string standInName)
    {
        try
        {
            var (uioName, _) = Resolve(device, standInName);
            return Start(standIn, standInName, ReadName(sysfsRoot, uioName), mailbox);
        }
        catch
        {
            standIn.Dispose();
            throw;
        }
    }

    /// <summary>Finds the UIO device whose sysfs name is <paramref name="name"/>; returns "uioN".</summary>
    public static string FindDevice(string name, string sysfsRoot = DefaultSysfsRoot)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(sysfsRoot);
        if (Directory.Exists(sysfsRoot))
        {
            foreach (string dir in Directory.EnumerateDirectories(sysfsRoot, "uio*").Order(StringComparer.Ordinal))
            {
                string nameFile = System.IO.Path.Combine(dir, "name");
                if (File.Exists(nameFile) && File.ReadAllText(nameFile).Trim() == name)
                    return System.IO.Path.GetFileName(dir);
            }
        }
        throw new UioDeviceNotFoundException(sysfsRoot, $"has no UIO device named '{name}'.");
    }

    private static (string UioName, string DevicePath) Resolve(string device, string? devicePath)
    {
        ArgumentNullException.ThrowIfNull(device);
        string uioName = System.IO.Path.GetFileName(device);
        if (!uioName.StartsWith("uio", StringComparison.Ordinal) || !uint.TryParse(uioName.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            throw new ArgumentException($"UIO device '{device}' is not of the form 'uioN' or '/dev/uioN'.", nameof(device));
        return (uioName, devicePath ?? (device.Contains('/') ? device : "/dev/" + uioName));
    }

    private static string ReadName(string sysfsRoot, string uioName)
    {
        ArgumentNullException.ThrowIfNull(sysfsRoot);
        string dir = System.IO.Path.Combine(sysfsRoot, uioName);
        if (!Directory.Exists(dir))
            throw new UioDeviceNotFoundException(dir, "does not exist (no such UIO device).");
        string nameFile = System.IO.Path.Combine(dir, "name");
        return File.Exists(nameFile) ? File.ReadAllText(nameFile).Trim() : "";
    }

    private static UioDoorbell Start(FileDescriptor device, string path, string deviceName, UioMailbox? mailbox)
    {
        try
        {
            NativeCallException.ThrowIfError(Native.SetNonBlocking(device.Value), "fcntl(O_NONBLOCK)", path);
            var doorbell = new UioDoorbell(device, path, deviceName, mailbox);
            try
            {
                doorbell.EnableInterrupt();
                return doorbell;
            }
            catch
            {
                doorbell.Dispose();
                throw;
            }
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private void EnableInterrupt()
    {
        // UIO irqcontrol: writing a 32-bit 1 (re-)enables the interrupt.
        uint one = 1;
        int r = Native.Write(_device.Value, &one, sizeof(uint));
        NativeCallException.ThrowIfError(r, "write (enable interrupt)", DevicePath);
        if (r != sizeof(uint))
            throw new IOException($"UIO device '{DevicePath}' took {r} of 4 bytes of the interrupt-enable word.");
    }

    private protected override FileDescriptor Inbound => _device;

    /// <inheritdoc />
    public override bool Ring()
    {
        var mailbox = _mailbox;
        if (mailbox is null || IsDisposed)
            return false;
        var region = mailbox.Region;
        // The register is the same physical register in any mapping generation, so the current one
        // is fine; an unmapped region means "not delivered".
        if (!region.TryAcquire(region.Generation, out var lease))
            return false;
        try
        {
            if (mailbox.StatusOffset is long statusOffset)
            {
                // SAFETY: UioMailbox checked that both registers are aligned and inside the region; the lease checks again.
                uint status = Native.MmioRead32((uint*)lease.Pointer(statusOffset, sizeof(uint)));
                if ((status & mailbox.StatusFullMask) != 0)
                    return false;
            }
            Native.MmioWrite32((uint*)lease.Pointer(mailbox.RegisterOffset, sizeof(uint)), mailbox.RingValue);
            return true;
        }
        finally
        {
            lease.Dispose();
        }
    }

    private protected override bool Consume(bool throwIfClosed)
    {
        if (!TryAddRef(_device))
            throw new ObjectDisposedException(Name);
        try
        {
            uint count;
            int r = Native.Read(_device.Value, &count, sizeof(uint));
            if (r == -Errno.EAGAIN)
                return false;
            // EOF, or a reset from a stand-in socket closed with unread words: the device is gone.
            if (r == 0 || r == -Errno.ECONNRESET)
            {
                if (throwIfClosed)
                    throw new DoorbellClosedException(DevicePath, "the device returned end-of-file; it is gone.");
                return false;
            }
            NativeCallException.ThrowIfError(r, "read (interrupt count)", DevicePath);
            if (r != sizeof(uint))
                throw new IOException($"UIO device '{DevicePath}' returned {r} bytes for the 4-byte interrupt count.");
            Volatile.Write(ref _interruptCount, count);
            // Re-enabling acknowledges this interrupt and arms the next one.
            EnableInterrupt();
            return true;
        }
        finally
        {
            _device.DangerousRelease();
        }
    }

    private protected override void DisposeCore() => _device.Dispose();
}
