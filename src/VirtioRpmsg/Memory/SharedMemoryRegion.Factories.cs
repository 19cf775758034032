using System.Globalization;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Memory;

// The factories: one per backing (file, memfd, anonymous, UIO, /dev/mem), each checking its inputs
// before it maps anything.
public sealed partial class SharedMemoryRegion
{
    /// <summary>Creates (or resizes) a shared-memory file of <paramref name="size"/> bytes and maps it.</summary>
    /// <remarks>If this call created the file and then fails (ftruncate, mmap), it removes the file again.</remarks>
    public static SharedMemoryRegion CreateFile(string path, long size, ulong deviceAddress = 0, bool guardPages = false, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ArgumentNullException.ThrowIfNull(path);
        ValidateSize(size, deviceAddress, path);
        var access = RegionAccess.Of(memoryType, barriers);
        bool created = false;
        try
        {
            using (var fd = OpenOrCreate(path, out created))
                NativeCallException.ThrowIfError(Native.Ftruncate(fd.Value, size), "ftruncate", path);
            return OpenFileCore(path, deviceAddress, size, 0, guardPages, access);
        }
        catch when (created)
        {
            // Only a file this call created: an existing one (a peer's) is left as it is, resized or not.
            RemoveCreatedFile(path);
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> read-write, creating it if missing; <paramref name="created"/> says which.</summary>
    private static FileDescriptor OpenOrCreate(string path, out bool created)
    {
        // O_EXCL first, so that the call knows whether the file is its own; a plain O_CREAT cannot tell.
        for (int attempt = 1; ; attempt++)
        {
            int r = Native.Open(path, Native.OpenCreateNew, out int fd);
            created = r == 0;
            if (r == -Errno.EEXIST)
                r = Native.Open(path, Native.OpenReadWrite, out fd);
            if (r == 0)
                return new FileDescriptor(fd);
            // ENOENT: removed between the two opens; try again (a few times: someone keeps creating and removing it).
            if (r != -Errno.ENOENT || attempt == 3)
                NativeCallException.Throw("open", path, -r);
        }
    }

    private static void RemoveCreatedFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure matters more; the file stays, as before this cleanup existed.
        }
    }

    /// <summary>Maps an existing file; <paramref name="size"/> null maps from <paramref name="fileOffset"/> to the end.</summary>
    public static SharedMemoryRegion OpenFile(string path, ulong deviceAddress = 0, long? size = null, long fileOffset = 0, bool guardPages = false, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (fileOffset < 0)
            throw new ArgumentOutOfRangeException(nameof(fileOffset), fileOffset, $"'{path}': file offset must not be negative.");
        long fileSize;
        using (var fd = FileDescriptor.Open(path, Native.OpenReadWrite))
            fileSize = fd.GetSize(path);
        long length = size ?? fileSize - fileOffset;
        ValidateSize(length, deviceAddress, path);
        RequireFileSize(path, fileSize, length, fileOffset);
        return OpenFileCore(path, deviceAddress, length, fileOffset, guardPages, RegionAccess.Of(memoryType, barriers));
    }

    private static SharedMemoryRegion OpenFileCore(string path, ulong deviceAddress, long size, long fileOffset, bool guardPages, RegionAccess access) =>
        new(path, RegionBacking.SharedMemoryFile, deviceAddress, size, () =>
        {
            // The mapping keeps the file alive; the descriptor is not needed after mmap.
            using var fd = FileDescriptor.Open(path, Native.OpenReadWrite);
            // Checked at every map, Remap included: the file may have shrunk (or been recreated smaller) since
            // it was opened, and a mapping past its end is SIGBUS at the first access.
            RequireFileSize(path, fd.GetSize(path), size, fileOffset);
            return MappedBlock.Map(fd.Value, path, fileOffset, (ulong)size, guardPages);
        }, null, access);

    private static void RequireFileSize(string path, long fileSize, long size, long fileOffset)
    {
        if (fileOffset > fileSize || size > fileSize - fileOffset)
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"'{path}' is {fileSize} bytes, too small for {size} bytes at offset {fileOffset}.");
    }

    /// <summary>Creates an anonymous memfd of <paramref name="size"/> bytes, mapped, that can be passed to a peer process.</summary>
    public static SharedMemoryRegion CreateMemFd(string name, long size, ulong deviceAddress = 0, bool guardPages = false, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ArgumentNullException.ThrowIfNull(name);
        ValidateSize(size, deviceAddress, name);
        var access = RegionAccess.Of(memoryType, barriers);
        NativeCallException.ThrowIfError(Native.MemfdCreate(name, out int raw), "memfd_create", name);
        var fd = new FileDescriptor(raw);
        try
        {
            NativeCallException.ThrowIfError(Native.Ftruncate(fd.Value, size), "ftruncate", name);
            // Sealed at its size: no holder of the fd (a peer included) can shrink it under our mapping
            // (the next access would be SIGBUS) or grow it; F_SEAL_SEAL stops anyone from adding a write
            // seal that would make Remap's writable mmap fail. See MemFdSeals.
            NativeCallException.ThrowIfError(Native.MemfdSeal(fd.Value), "fcntl(F_ADD_SEALS)", name);
            return FromDescriptorCore(fd, "memfd:" + name, deviceAddress, size, guardPages, access, 0, 0);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Maps a memfd (or file) descriptor received from a peer. The region takes ownership of it.</summary>
    /// <remarks>On failure the descriptor is closed too, so a caller never has to clean up after a failed call.</remarks>
    /// <remarks>
    /// <paramref name="fileOffset"/> (any byte offset) is where the region starts in the file: a vhost-user
    /// front-end passes its whole guest-memory file and says where each region lies in it, with no alignment promised
    /// (its mmap_offset). The file is then mapped from its start, as libvhost-user and DPDK do, and the region begins
    /// that far in: offset 0 is aligned for every file, hugetlbfs included (whose mmap offsets must be whole huge
    /// pages), and the mapped length is rounded to the file's block size (the huge page size there) so it unmaps.
    /// <paramref name="requireShrinkSeal"/> false accepts an fd that cannot be sealed (a vhost-user guest's
    /// memory file: UML's physmem and QEMU's file backends are not sealable memfds); the owner of such a
    /// file can still shrink it under us, a documented limit of that transport (docs/threat-model.md).
    /// </remarks>
    internal static SharedMemoryRegion FromDescriptor(FileDescriptor fd, string name, ulong deviceAddress, long size, bool guardPages = false, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable, long fileOffset = 0, bool requireShrinkSeal = true)
    {
        ArgumentNullException.ThrowIfNull(fd);
        try
        {
            ValidateSize(size, deviceAddress, name);
            var access = RegionAccess.Of(memoryType, barriers);
            if (fileOffset < 0)
                throw new ArgumentOutOfRangeException(nameof(fileOffset), fileOffset, $"'{name}': file offset {fileOffset} must not be negative.");
            // A peer's fd that could still be shrunk would let the peer kill us with SIGBUS at any ring access.
            if (requireShrinkSeal)
                MemFdSeals.RequireShrinkSeal(fd, name);
            long actual = fd.GetSize(name);
            if (actual < size || fileOffset > actual - size)
                throw new ArgumentOutOfRangeException(nameof(size), size, $"'{name}' is {actual} bytes, too small for {size} bytes at offset {fileOffset}.");
            return FromDescriptorCore(fd, name, deviceAddress, size, guardPages, access, (ulong)fileOffset, (ulong)fd.GetBlockSize(name));
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    // Mapped from the file's start; the region begins `skip` bytes in (see FromDescriptor).
    private static SharedMemoryRegion FromDescriptorCore(FileDescriptor fd, string name, ulong deviceAddress, long size, bool guardPages, RegionAccess access, ulong skip, ulong lengthUnit) =>
        new(name, RegionBacking.MemFd, deviceAddress, size, () => MappedBlock.Map(fd.Value, name, 0, (ulong)size, guardPages, skip, lengthUnit), fd, access);

    /// <summary>Anonymous shared memory (tests, in-process loopback).</summary>
    public static SharedMemoryRegion CreateAnonymous(long size, ulong deviceAddress = 0, bool guardPages = false, string name = "anonymous", SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ValidateSize(size, deviceAddress, name);
        var access = RegionAccess.Of(memoryType, barriers);
        return new(name, RegionBacking.Anonymous, deviceAddress, size, () => MappedBlock.Map(-1, name, 0, (ulong)size, guardPages), null, access);
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
    /// <param name="memoryType">Normal or Device memory; null is Device (UIO maps the memory uncached).</param>
    /// <param name="barriers">Barrier strength for vrings in this region.</param>
    public static SharedMemoryRegion OpenUio(string device, int mapIndex, string sysfsRoot = "/sys/class/uio", string? devicePath = null, bool guardPages = false, ulong? deviceAddress = null, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(sysfsRoot);
        ArgumentOutOfRangeException.ThrowIfNegative(mapIndex);
        var access = RegionAccess.Of(memoryType, barriers);
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
        }, null, access);
    }

    /// <summary>
    /// Maps a physical range of /dev/mem (O_SYNC: uncached on ARM). The region's device address is
    /// <paramref name="deviceAddress"/> when given (the remote's view of the memory), else the physical address.
    /// </summary>
    public static SharedMemoryRegion OpenDevMem(ulong physicalAddress, long size, string devMemPath = "/dev/mem", bool guardPages = false, ulong? deviceAddress = null, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        ArgumentNullException.ThrowIfNull(devMemPath);
        var access = RegionAccess.Of(memoryType, barriers);
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
        }, null, access);
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
}
