using System.Globalization;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// A doorbell on a UIO device: the peer's ring is the device interrupt (read the 4-byte interrupt
/// count from /dev/uioX, let the mailbox take and clear what the peer sent, then write a 4-byte 1 to
/// re-enable it); our ring is the mailbox's (<see cref="IMailbox"/>: a generic register,
/// <see cref="UioMailbox"/>, or a real controller's protocol), refused at once when the mailbox is full.
/// </summary>
public sealed unsafe class UioDoorbell : FileDescriptorDoorbell, IDoorbell
{
    /// <summary>Where the kernel lists UIO devices.</summary>
    public const string DefaultSysfsRoot = "/sys/class/uio";

    private readonly FileDescriptor _device;
    private readonly IMailbox? _mailbox;
    private long _spuriousInterrupts;
    // The last receipt as one 64-bit word (Pack), so that a reader on another thread never sees the fields of two.
    private ulong _lastReceipt = Pack(MailboxReceipt.NotChecked);
    private uint _interruptCount;

    private UioDoorbell(FileDescriptor device, string devicePath, string deviceName, IMailbox? mailbox) : base(devicePath)
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

    /// <summary>Interrupts after which the mailbox had nothing for us (shared or spurious lines).</summary>
    public long SpuriousInterrupts => Interlocked.Read(ref _spuriousInterrupts);

    /// <summary>
    /// What the mailbox's acknowledge found after the last interrupt (a diagnostic): written by the thread that consumed
    /// it, read whole from any thread. A count of messages outside 0..int.MaxValue reads as 0.
    /// </summary>
    public MailboxReceipt LastReceipt => Unpack(Interlocked.Read(ref _lastReceipt));

    // Bits 0-31: the last message; 32-62: the count (non-negative, 31 bits); 63: checked.
    private static ulong Pack(MailboxReceipt receipt) =>
        receipt.LastMessage | (ulong)(uint)Math.Max(receipt.Messages, 0) << 32 | (receipt.Checked ? 1UL << 63 : 0);

    private static MailboxReceipt Unpack(ulong packed) =>
        new((int)((packed >> 32) & int.MaxValue), (uint)packed, (packed >> 63) != 0);

    /// <summary>The mailbox rung outbound and acknowledged inbound; null when the doorbell can only wait.</summary>
    public IMailbox? Mailbox => _mailbox;

    /// <summary>
    /// Opens UIO device <paramref name="device"/> ("uio0" or "/dev/uio0") and enables its interrupt.
    /// Without a <paramref name="mailbox"/> the doorbell can only wait; Ring returns false.
    /// </summary>
    /// <exception cref="UioDeviceNotFoundException">The sysfs entry or the device node does not exist.</exception>
    public static UioDoorbell Open(string device, IMailbox? mailbox = null, string sysfsRoot = DefaultSysfsRoot, string? devicePath = null)
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
    internal static UioDoorbell OpenWithStandIn(string device, IMailbox? mailbox, string sysfsRoot, FileDescriptor standIn, string standInName)
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

    private static UioDoorbell Start(FileDescriptor device, string path, string deviceName, IMailbox? mailbox)
    {
        try
        {
            NativeCallException.ThrowIfError(Native.SetNonBlocking(device.Value), "fcntl(O_NONBLOCK)", path);
            var doorbell = new UioDoorbell(device, path, deviceName, mailbox);
            try
            {
                // Clear what is stale at the controller and enable its receive interrupt before the line.
                mailbox?.Start();
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

    private void EnableInterrupt(bool deviceMayBeGone = false)
    {
        // UIO irqcontrol: writing a 32-bit 1 (re-)enables the interrupt.
        uint one = 1;
        int r = Native.Write(_device.Value, &one, sizeof(uint));
        // Removed after the count was read (uio_write then fails with EINVAL, or EIO for a device without an
        // interrupt; our word is always 4 bytes): the ring is consumed all the same, and the next wait reports it gone.
        if (deviceMayBeGone && (r == -Errno.EINVAL || r == -Errno.EIO))
            return;
        NativeCallException.ThrowIfError(r, "write (enable interrupt)", DevicePath);
        if (r != sizeof(uint))
            throw new IOException($"UIO device '{DevicePath}' took {r} of 4 bytes of the interrupt-enable word.");
    }

    private protected override FileDescriptor Inbound => _device;

    /// <inheritdoc />
    public override bool Ring() => _mailbox is { } mailbox && !IsDisposed && mailbox.TryRing();

    /// <summary>Rings through the mailbox's signal for vring <paramref name="vring"/> (see <see cref="IMailbox.TryRing(int)"/>).</summary>
    public bool Ring(int vring) => _mailbox is { } mailbox && !IsDisposed && mailbox.TryRing(vring);

    // No interrupt within the wait: a kick the controller refused earlier (the peer had not read the previous word)
    // goes out now if it can, not only at the next ring or interrupt, which may never come.
    private protected override bool TimedOut()
    {
        if (!IsDisposed)
            _mailbox?.FlushKicks();
        return false;
    }

    private protected override bool Consume(bool throwIfClosed)
    {
        if (!_device.TryAddRef())
            throw new ObjectDisposedException(Name);
        try
        {
            uint count;
            int r = Native.Read(_device.Value, &count, sizeof(uint));
            if (r == -Errno.EAGAIN)
                return false;
            // A removed UIO device (uio_unregister_device) fails every read with EIO and polls ready; EOF, or a reset
            // from a stand-in socket closed with unread words, likewise: the device is gone.
            if (r == 0 || r == -Errno.ECONNRESET || r == -Errno.EIO)
            {
                if (throwIfClosed)
                    throw new DoorbellClosedException(DevicePath, r == -Errno.EIO
                        ? "reading the interrupt count failed with EIO; the UIO device was removed."
                        : "the device returned end-of-file; it is gone.");
                return false;
            }
            NativeCallException.ThrowIfError(r, "read (interrupt count)", DevicePath);
            if (r != sizeof(uint))
                throw new IOException($"UIO device '{DevicePath}' returned {r} bytes for the 4-byte interrupt count.");
            Volatile.Write(ref _interruptCount, count);
            // Take and clear the message/status at the controller first: re-enabling a level-triggered
            // line that is still asserted would fire it again at once, for ever.
            if (_mailbox is { } mailbox)
            {
                var receipt = mailbox.Acknowledge();
                Interlocked.Exchange(ref _lastReceipt, Pack(receipt));
                if (receipt.IsSpurious)
                    Interlocked.Increment(ref _spuriousInterrupts);
            }
            // Re-enabling arms the next interrupt.
            EnableInterrupt(deviceMayBeGone: true);
            return true;
        }
        finally
        {
            _device.DangerousRelease();
        }
    }

    private protected override void DisposeCore()
    {
        // The mask write is refused quietly when the registers are already unmapped.
        _mailbox?.Stop();
        _device.Dispose();
    }
}
