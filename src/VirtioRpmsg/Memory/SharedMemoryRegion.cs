using System.Globalization;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Memory;

/// <summary>
/// A mapped window of shared memory with a device (physical) base address. All access goes through
/// a <see cref="MappingLease"/>; unmapping (a) refuses new leases at once, (b) bumps the generation,
/// (c) waits for every live lease to be released and (d) only then calls munmap. Nothing can touch
/// the memory after it is unmapped.
/// </summary>
public sealed unsafe class SharedMemoryRegion : IDisposable
{
    private const int ClosedBit = 1;

    /// <summary>Largest generation: the state word holds (generation &lt;&lt; 1) | closed in a non-negative int.</summary>
    public const int MaxGeneration = int.MaxValue >> 1;

    private static long s_lastId;

    // Identifies this region in the per-thread lease tables (never reused, never 0; stays far below
    // the 2^39 that a lease-table slot word can hold).
    private readonly long _id = Interlocked.Increment(ref s_lastId);
    private readonly Func<MappedBlock> _map;
    private readonly FileDescriptor? _descriptor;
    private readonly object _lifecycle = new();

    // (generation << 1) | closed. Written only under _lifecycle, read lock-free by Acquire.
    private int _state;
    private MappedBlock? _block;
    private byte* _base;
    private bool _disposed;

    private SharedMemoryRegion(string name, RegionBacking backing, ulong deviceAddress, long size, Func<MappedBlock> map, FileDescriptor? descriptor)
    {
        Name = name;
        Backing = backing;
        DeviceAddress = deviceAddress;
        Size = size;
        _map = map;
        _descriptor = descriptor;
        _block = map();
        _base = _block.Base;
    }

    /// <summary>Name used in every error message (a path, or a description).</summary>
    public string Name { get; }

    /// <summary>Where the memory comes from.</summary>
    public RegionBacking Backing { get; }

    /// <summary>Device (physical) address of the first byte, as the remote processor sees it.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Size in bytes.</summary>
    public long Size { get; }

    /// <summary>Mapping generation: bumped by every unmap. Objects bound to an older one fail fast.</summary>
    public int Generation => Volatile.Read(ref _state) >> 1;

    /// <summary>True while leases can be taken.</summary>
    public bool IsMapped => (Volatile.Read(ref _state) & ClosedBit) == 0;

    /// <summary>Number of leases currently live (diagnostics).</summary>
    public long LiveLeases => ThreadLeaseTable.Count(_id);

    /// <summary>The memfd backing this region, for handing to a peer process; null for other backings.</summary>
    internal FileDescriptor? Descriptor => _descriptor;

    // ---- factories -------------------------------------------------------------------------

    /// <summary>Creates (or resizes) a shared-memory file of <paramref name="size"/> bytes and maps it.</summary>
    public static SharedMemoryRegion CreateFile(string path, long size, ulong deviceAddress = 0, bool guardPages = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ValidateSize(size, deviceAddress, path);
        using (var fd = FileDescriptor.Open(path, Native.OpenCreate))
            NativeCallException.ThrowIfError(Native.Ftruncate(fd.Value, size), "ftruncate", path);
        return OpenFileCore(path, deviceAddress, size, 0, guardPages);
    }

    /// <summary>Maps an existing file; <paramref name="size"/> null maps from <paramref name="fileOffset"/> to the end.</summary>
    public static SharedMemoryRegion OpenFile(string path, ulong deviceAddress = 0, long? size = null, long fileOffset = 0, bool guardPages = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (fileOffset < 0)
            throw new ArgumentOutOfRangeException(nameof(fileOffset), fileOffset, $"'{path}': file offset must not be negative.");
        long fileSize;
        using (var fd = FileDescriptor.Open(path, Native.OpenReadWrite))
            fileSize = fd.GetSize(path);
        long length = size ?? fileSize - fileOffset;
        ValidateSize(length, deviceAddress, path);
        if (fileOffset > fileSize || length > fileSize - fileOffset)
            throw new ArgumentOutOfRangeException(nameof(size), length,
                $"'{path}' is {fileSize} bytes, too small for {length} bytes at offset {fileOffset}.");
        return OpenFileCore(path, deviceAddress, length, fileOffset, guardPages);
    }

    private static SharedMemoryRegion OpenFileCore(string path, ulong deviceAddress, long size, long fileOffset, bool guardPages) =>
        new(path, RegionBacking.SharedMemoryFile, deviceAddress, size, () =>
        {
            // The mapping keeps the file alive; the descriptor is not needed after mmap.
            using var fd = FileDescriptor.Open(path, Native.OpenReadWrite);
            return MappedBlock.Map(fd.Value, path, fileOffset, (ulong)size, guardPages);
        }, null);

    /// <summary>Creates an anonymous memfd of <paramref name="size"/> bytes, mapped, that can be passed to a peer process.</summary>
    public static SharedMemoryRegion CreateMemFd(string name, long size, ulong deviceAddress = 0, bool guardPages = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        ValidateSize(size, deviceAddress, name);
        NativeCallException.ThrowIfError(Native.MemfdCreate(name, out int raw), "memfd_create", name);
        var fd = new FileDescriptor(raw);
        try
        {
            NativeCallException.ThrowIfError(Native.Ftruncate(fd.Value, size), "ftruncate", name);
            return FromDescriptorCore(fd, "memfd:" + name, deviceAddress, size, guardPages);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Maps a memfd (or file) descriptor received from a peer. The region takes ownership of it.</summary>
    /// <remarks>On failure the descriptor is closed too, so a caller never has to clean up after a failed call.</remarks>
    internal static SharedMemoryRegion FromDescriptor(FileDescriptor fd, string name, ulong deviceAddress, long size, bool guardPages = false)
    {
        ArgumentNullException.ThrowIfNull(fd);
        try
        {
            ValidateSize(size, deviceAddress, name);
            long actual = fd.GetSize(name);
            if (actual < size)
                throw new ArgumentOutOfRangeException(nameof(size), size, $"'{name}' is {actual} bytes, too small for {size} bytes.");
            return FromDescriptorCore(fd, name, deviceAddress, size, guardPages);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static SharedMemoryRegion FromDescriptorCore(FileDescriptor fd, string name, ulong deviceAddress, long size, bool guardPages) =>
        new(name, RegionBacking.MemFd, deviceAddress, size, () => MappedBlock.Map(fd.Value, name, 0, (ulong)size, guardPages), fd);

    /// <summary>Anonymous shared memory (tests, in-process loopback).</summary>
    public static SharedMemoryRegion CreateAnonymous(long size, ulong deviceAddress = 0, bool guardPages = false, string name = "anonymous")
    {
        ValidateSize(size, deviceAddress, name);
        return new(name, RegionBacking.Anonymous, deviceAddress, size, () => MappedBlock.Map(-1, name, 0, (ulong)size, guardPages), null);
    }

    /// <summary>
    /// Maps map <paramref name="mapIndex"/> of a UIO device, reading its address, size and in-page offset
    /// from sysfs (<c>{sysfsRoot}/uioX/maps/mapN/{addr,size,offset}</c>).
    /// </summary>
    /// <remarks>
    /// The device memory starts <c>offset</c> bytes into the page that holds <c>addr</c> and ends at
    /// <c>addr + size</c>. This reads both kernel conventions right: drivers such as uio_pdrv_genirq
    /// publish a page-aligned <c>addr</c> and a <c>size</c> rounded up to include <c>offset</c>; others
    /// publish the unaligned start as <c>addr</c>. The mapping is exactly the pages the kernel allows
    /// (<c>ceil(((addr % page) + size) / page)</c>), and <see cref="DeviceAddress"/> is the first real byte.
    /// </remarks>
    /// <param name="device">"uio0" or "/dev/uio0".</param>
    /// <param name="mapIndex">The map number N; mapped at file offset N * page size.</param>
    /// <param name="sysfsRoot">Root of the UIO class tree; tests point it at a fake tree.</param>
    /// <param name="devicePath">Path of the character device; defaults to /dev/uioX.</param>
    /// <param name="guardPages">Surround the mapping with inaccessible pages (tests).</param>
    /// <param name="deviceAddress">Address the remote sees the map at, when it differs from the physical address in sysfs.</param>
    public static SharedMemoryRegion OpenUio(string device, int mapIndex, string sysfsRoot = "/sys/class/uio", string? devicePath = null, bool guardPages = false, ulong? deviceAddress = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(sysfsRoot);
        ArgumentOutOfRangeException.ThrowIfNegative(mapIndex);
        string uioName = Path.GetFileName(device);
        devicePath ??= device.Contains('/') ? device : "/dev/" + uioName;
        string deviceDir = Path.Combine(sysfsRoot, uioName);
        if (!Directory.Exists(deviceDir))
            throw new DirectoryNotFoundException($"UIO device '{uioName}' not found: '{deviceDir}' does not exist.");
        string mapDir = Path.Combine(deviceDir, "maps", "map" + mapIndex.ToString(CultureInfo.InvariantCulture));
        if (!Directory.Exists(mapDir))
            throw new DirectoryNotFoundException($"UIO device '{uioName}' has no map {mapIndex}: '{mapDir}' does not exist.");
        ulong addr = ReadSysfsNumber(Path.Combine(mapDir, "addr"));
        ulong size = ReadSysfsNumber(Path.Combine(mapDir, "size"));
        // Kernels before 4.x have no 'offset' file; the map is then page-aligned.
        string offsetFile = Path.Combine(mapDir, "offset");
        ulong inPage = File.Exists(offsetFile) ? ReadSysfsNumber(offsetFile) : 0;
        ulong page = (ulong)MappedBlock.PageSize;
        if (size == 0 || size > long.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(mapIndex), size, $"'{mapDir}/size' is 0x{size:X}: a UIO map must have a non-zero size.");
        if (inPage >= page)
            throw new ArgumentOutOfRangeException(nameof(mapIndex), inPage, $"'{mapDir}/offset' is 0x{inPage:X}: not smaller than the page size.");
        if (!AddressRange.FitsInAddressSpace(addr, size))
            throw new AddressRangeException(nameof(mapIndex), $"'{mapDir}'", addr, size, "wraps past the end of the 64-bit address space");
        ulong start = (addr & ~(page - 1)) + inPage;
        ulong last = addr + (size - 1);
        if (start > last)
            throw new ArgumentOutOfRangeException(nameof(mapIndex), inPage,
                $"'{mapDir}/offset' is 0x{inPage:X}: the memory would start at 0x{start:X}, past the end of the map (addr 0x{addr:X}, size 0x{size:X}).");
        long usable = (long)(last - start + 1);
        ulong regionAddress = deviceAddress ?? start;
        ValidateSize(usable, regionAddress, devicePath);
        long fileOffset = mapIndex * MappedBlock.PageSize;
        string subject = $"{devicePath} map {mapIndex}";
        return new(subject, RegionBacking.Uio, regionAddress, usable, () =>
        {
            using var fd = FileDescriptor.Open(devicePath, Native.OpenReadWrite);
            // UIO takes the map number from the page offset, so the in-page offset is applied after mmap.
            return MappedBlock.Map(fd.Value, subject, fileOffset, (ulong)usable, guardPages, skip: inPage);
        }, null);
    }

    /// <summary>
    /// Maps a physical range of /dev/mem (O_SYNC: uncached on ARM). The region's device address is
    /// <paramref name="deviceAddress"/> when given (the remote's view of the memory), else the physical address.
    /// </summary>
    public static SharedMemoryRegion OpenDevMem(ulong physicalAddress, long size, string devMemPath = "/dev/mem", bool guardPages = false, ulong? deviceAddress = null)
    {
        ArgumentNullException.ThrowIfNull(devMemPath);
        ValidateSize(size, physicalAddress, devMemPath);
        ValidateSize(size, deviceAddress ?? physicalAddress, devMemPath);
        // /dev/mem is addressed by file offset: the last byte must still be a valid (signed) off_t.
        if (physicalAddress > long.MaxValue || (ulong)size - 1 > long.MaxValue - physicalAddress)
            throw new AddressRangeException(nameof(physicalAddress), devMemPath, physicalAddress, (ulong)size, "is beyond the largest file offset");
        string subject = $"{devMemPath}@0x{physicalAddress:X}";
        return new(subject, RegionBacking.DevMem, deviceAddress ?? physicalAddress, size, () =>
        {
            using var fd = FileDescriptor.Open(devMemPath, Native.OpenSync);
            return MappedBlock.Map(fd.Value, subject, (long)physicalAddress, (ulong)size, guardPages);
        }, null);
    }

    private static void ValidateSize(long size, ulong deviceAddress, string subject)
    {
        if (size <= 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"'{subject}': region size must be positive.");
        if (!AddressRange.FitsInAddressSpace(deviceAddress, (ulong)size))
            throw new AddressRangeException(nameof(deviceAddress), subject, deviceAddress, (ulong)size, "wraps past the end of the 64-bit address space");
    }

    private static ulong ReadSysfsNumber(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"UIO attribute '{path}' does not exist.", path, e);
        }
        catch (IOException e)
        {
            throw new IOException($"Cannot read UIO attribute '{path}': {e.Message}", e);
        }
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok)
            throw new FormatException($"UIO attribute '{path}' is '{text}', not a number.");
        return value;
    }

    // ---- leases ----------------------------------------------------------------------------

    /// <summary>Takes a lease on the current mapping. Throws <see cref="RegionClosedException"/> when unmapped.</summary>
    public MappingLease Acquire()
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        // Read after the slot is published: either Unmap's scan sees the slot, or this sees its closed bit.
        int state = Volatile.Read(ref _state);
        if ((state & ClosedBit) != 0)
        {
            table.TryExit(slot, tag);
            throw new RegionClosedException(Name, state >> 1);
        }
        // _base is read after the state check (acquire order): it belongs to the generation just checked.
        return new MappingLease(this, _base, Size, table, slot, tag, state >> 1);
    }

    /// <summary>
    /// Takes a lease only if the region is still at <paramref name="expectedGeneration"/>;
    /// throws <see cref="StaleMappingException"/> when it has been remapped since.
    /// </summary>
    public MappingLease Acquire(int expectedGeneration)
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        int state = Volatile.Read(ref _state);
        // The range check stops a huge or negative generation from aliasing a real one after the shift.
        if ((uint)expectedGeneration > MaxGeneration || state != expectedGeneration << 1)
        {
            table.TryExit(slot, tag);
            ThrowAcquireFailed(state, expectedGeneration);
        }
        return new MappingLease(this, _base, Size, table, slot, tag, expectedGeneration);
    }

    /// <summary>Takes a lease if the region is mapped at <paramref name="expectedGeneration"/>; false otherwise.</summary>
    public bool TryAcquire(int expectedGeneration, out MappingLease lease)
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        if ((uint)expectedGeneration > MaxGeneration || Volatile.Read(ref _state) != expectedGeneration << 1)
        {
            table.TryExit(slot, tag);
            lease = default;
            return false;
        }
        lease = new MappingLease(this, _base, Size, table, slot, tag, expectedGeneration);
        return true;
    }

    private int Enter(ThreadLeaseTable table, out uint tag)
    {
        int slot = table.Enter(_id, out tag);
        if (slot < 0)
            ThrowTooManyLeases();
        // Without membarrier the runtime's process-wide barrier may not order this thread's slot store
        // before its state read (ARM64 RCpc cores); then the acquirer pays for a full fence itself.
        // A static readonly bool: the JIT drops the branch where membarrier exists.
        if (AcquirerNeedsFence)
            Interlocked.MemoryBarrier();
        return slot;
    }

    /// <summary>True when the kernel lacks MEMBARRIER_CMD_PRIVATE_EXPEDITED (or VRPMSG_LEASE_FENCE=1 forces the fallback).</summary>
    internal static readonly bool AcquirerNeedsFence =
        Environment.GetEnvironmentVariable("VRPMSG_LEASE_FENCE") == "1" ||
        (Native.MembarrierQuery() is int mask && (mask < 0 || (mask & Native.MembarrierPrivateExpedited) == 0));

    /// <summary>A handle that binds the current generation: it fails fast once the region is remapped.</summary>
    public RegionHandle Bind() => new(this, Generation);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowAcquireFailed(int state, int expectedGeneration)
    {
        int generation = state >> 1;
        if (generation != expectedGeneration)
            throw new StaleMappingException(Name, expectedGeneration, generation);
        throw new RegionClosedException(Name, generation);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowTooManyLeases() =>
        throw new InvalidOperationException($"Region '{Name}': this thread already holds {ThreadLeaseTable.Capacity} mapping leases; leases must be short and few.");

    // ---- unmap / remap ---------------------------------------------------------------------

    /// <summary>Unmaps, waiting up to 10 seconds for live leases. See <see cref="Unmap(TimeSpan)"/>.</summary>
    public void Unmap() => Unmap(TimeSpan.FromSeconds(10));

    /// <summary>
    /// Refuses new leases, bumps the generation, waits for live leases to drain, then unmaps.
    /// If leases are still live after <paramref name="drainTimeout"/> the memory stays mapped (and
    /// closed to new leases) and <see cref="TimeoutException"/> is thrown: unmapping under a live
    /// lease is never an option. Idempotent.
    /// </summary>
    public void Unmap(TimeSpan drainTimeout)
    {
        if (drainTimeout < TimeSpan.Zero && drainTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(drainTimeout), drainTimeout, $"Region '{Name}': drain timeout must be non-negative or infinite.");
        if (MappingLease.HeldByCurrentThread > 0)
            throw new LeaseHeldException($"Unmap of region '{Name}'");
        lock (_lifecycle)
        {
            int state = _state;
            if ((state & ClosedBit) == 0)
            {
                // At MaxGeneration the generation cannot move on: close without bumping and refuse any
                // later Remap, so no handle can ever see a reused generation number.
                int generation = state >> 1;
                int next = generation < MaxGeneration ? generation + 1 : generation;
                Interlocked.Exchange(ref _state, (next << 1) | ClosedBit);
                // Acts as a full fence on every thread: pairs with the publish-slot-then-read-state in
                // Acquire, so from here on the scan in WaitForLeases sees every lease that can still be live.
                Interlocked.MemoryBarrierProcessWide();
            }
            if (_block is null)
                return;
            WaitForLeases(drainTimeout);
            var block = _block;
            _block = null;
            _base = null;
            block.Dispose();
        }
    }

    private void WaitForLeases(TimeSpan timeout)
    {
        // Leases are short by design (no blocking while held), so a spin usually suffices.
        var spin = new SpinWait();
        // Saturating: an infinite or huge timeout must not wrap into the past.
        long deadline = timeout == Timeout.InfiniteTimeSpan || timeout.TotalMilliseconds >= long.MaxValue / 2
            ? long.MaxValue
            : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (ThreadLeaseTable.Count(_id) != 0)
        {
            if (spin.NextSpinWillYield && Environment.TickCount64 > deadline)
                throw new TimeoutException($"Region '{Name}': {ThreadLeaseTable.Count(_id)} lease(s) still live after {timeout.TotalMilliseconds} ms; the region is closed but not unmapped.");
            spin.SpinOnce(sleep1Threshold: 40);
        }
    }

    /// <summary>Maps the same backing again under a new generation (recovery). Objects bound to the old one stay stale.</summary>
    public void Remap()
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if ((_state & ClosedBit) == 0)
                throw new InvalidOperationException($"Region '{Name}' is still mapped (generation {_state >> 1}); unmap it first.");
            if (_block is not null)
                throw new InvalidOperationException($"Region '{Name}' could not be unmapped earlier (leases still live); cannot remap.");
            if (_state >> 1 == MaxGeneration)
                throw new InvalidOperationException($"Region '{Name}' has used all {MaxGeneration} generations; it cannot be mapped again.");
            var block = _map();
            _block = block;
            _base = block.Base;
            // Release: the new base is visible before the open state is.
            Volatile.Write(ref _state, _state & ~ClosedBit);
        }
    }

    /// <summary>Unmaps (waiting for leases) and releases the backing descriptor.</summary>
    public void Dispose()
    {
        Unmap();
        lock (_lifecycle)
        {
            _disposed = true;
            _descriptor?.Dispose();
        }
    }

    // ---- address translation ---------------------------------------------------------------

    /// <summary>Translates a device address range to an offset in this region; false if not wholly inside.</summary>
    public bool TryTranslate(ulong deviceAddress, ulong length, out long offset)
    {
        bool ok = AddressRange.TryTranslate(DeviceAddress, (ulong)Size, deviceAddress, length, out ulong o);
        offset = (long)o;
        return ok;
    }

    /// <summary>Translates a device address range to an offset; throws <see cref="AddressRangeException"/> if not wholly inside.</summary>
    public long Translate(ulong deviceAddress, ulong length)
    {
        if (!TryTranslate(deviceAddress, length, out long offset))
            throw new AddressRangeException(nameof(deviceAddress), $"Region '{Name}' [0x{DeviceAddress:X}, +0x{Size:X})", deviceAddress, length, "is not inside the region");
        return offset;
    }

    /// <summary>Device address of an offset range; throws if the range is not inside the region.</summary>
    public ulong ToDeviceAddress(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size || length > Size - offset)
            throw new AddressRangeException(nameof(offset), $"Region '{Name}' of 0x{Size:X} bytes", unchecked((ulong)offset), unchecked((ulong)length), "is not inside the region");
        return DeviceAddress + (ulong)offset;
    }

    /// <summary>Name, backing, device range and generation, for logs.</summary>
    public override string ToString() => $"{Name} ({Backing}, 0x{DeviceAddress:X}+0x{Size:X}, generation {Generation}{(IsMapped ? "" : ", unmapped")})";
}
