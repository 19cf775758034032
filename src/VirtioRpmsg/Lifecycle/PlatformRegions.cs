using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Opens the regions of a <see cref="PlatformDescription"/> for <see cref="PlatformResources.Open"/>, one
/// per backing kind, and checks what only opening reveals (sysfs extents, a peer's memfd) against it.
/// A region that fails such a check is disposed before the exception leaves.
/// </summary>
internal static class PlatformRegions
{
    /// <summary>Opens region <paramref name="index"/> of <paramref name="d"/>.</summary>
    internal static SharedMemoryRegion Open(PlatformDescription d, int index, PlatformOpenOptions options)
    {
        var r = d.Regions[index];
        string p = $"regions[{index}]";
        bool guard = r.GuardPages ?? false;
        long size = (long)(r.Size ?? 0);
        ulong address = PlatformDescriptionValidator.DeviceAddress(r) ?? 0;
        // Null: the backing's default (Device for uio and devMem). Same members, same order (see PlatformMemoryType).
        var memory = (SharedMemoryType?)r.Memory;
        var barriers = (BarrierDomain)d.Barriers;
        switch (r.Kind)
        {
            case PlatformRegionKind.ShmFile:
                return r.Create == true
                    ? SharedMemoryRegion.CreateFile(r.Path!, size, address, guard, memory, barriers)
                    : SharedMemoryRegion.OpenFile(r.Path!, address, size, 0, guard, memory, barriers);
            case PlatformRegionKind.Anonymous:
                return SharedMemoryRegion.CreateAnonymous(size, address, guard, r.Name, memory, barriers);
            case PlatformRegionKind.DevMem:
                return SharedMemoryRegion.OpenDevMem(r.PhysicalAddress!.Value, size, r.Path ?? "/dev/mem", guard, address, memory, barriers);
            case PlatformRegionKind.Uio:
                return OpenUio(r, p, guard, memory, barriers);
            case PlatformRegionKind.Memfd:
                return OpenMemFd(d.Role, r, p, size, address, guard, options, memory, barriers);
            default:
                throw new PlatformDescriptionException(p + ".kind", r.Kind.ToString(), "unknown region kind");
        }
    }

    private static SharedMemoryRegion OpenUio(RegionDescription r, string p, bool guard, SharedMemoryType? memory, BarrierDomain barriers)
    {
        string sysfs = r.SysfsRoot ?? UioDoorbell.DefaultSysfsRoot;
        string device = r.Device ?? UioDoorbell.FindDevice(r.DeviceName!, sysfs);
        var region = SharedMemoryRegion.OpenUio(device, r.MapIndex ?? 0, sysfs, null, guard, r.DeviceAddress, memory, barriers);
        if (r.Size is { } expected && (ulong)region.Size != expected)
        {
            region.Dispose();
            throw new PlatformDescriptionException(p + ".size", PlatformDescriptionValidator.Hex(expected), $"sysfs says map {r.MapIndex ?? 0} of {device} is 0x{region.Size:X} bytes");
        }
        return region;
    }

    private static SharedMemoryRegion OpenMemFd(PlatformRole role, RegionDescription r, string p, long size, ulong address, bool guard, PlatformOpenOptions options, SharedMemoryType? memory, BarrierDomain barriers)
    {
        if (role == PlatformRole.Host)
        {
            var created = SharedMemoryRegion.CreateMemFd(r.Name, size, address, guard, memory, barriers);
            try
            {
                options.Passing?.SendMemory(created);
                return created;
            }
            catch
            {
                created.Dispose();
                throw;
            }
        }
        var passing = options.Passing
            ?? throw new InvalidOperationException($"{p} ('{r.Name}') is a memfd region: the remote receives it from the host, which needs PlatformOpenOptions.Passing.");
        var received = passing.ReceiveMemory(options.Timeout, options.CancellationToken, guard, memory, barriers);
        // What the peer sent is untrusted: it must be the region the description says.
        string? mismatch = received.DeviceAddress != address ? $"{p}.deviceAddress" : received.Size != size ? $"{p}.size" : null;
        if (mismatch is not null)
        {
            received.Dispose();
            throw new PlatformDescriptionException(mismatch, mismatch.EndsWith("size", StringComparison.Ordinal) ? PlatformDescriptionValidator.Hex((ulong)size) : PlatformDescriptionValidator.Hex(address),
                $"the host sent a region at 0x{received.DeviceAddress:X} of 0x{received.Size:X} bytes");
        }
        return received;
    }

    /// <summary>
    /// The path opening <paramref name="r"/> creates, or null. A file that exists already is someone
    /// else's (a peer that created it first): only files this process created are its to remove.
    /// </summary>
    internal static string? FileItWouldCreate(RegionDescription r) =>
        r.Kind == PlatformRegionKind.ShmFile && r.Create == true && r.Path is { } path && !File.Exists(path) ? path : null;

    /// <summary>Removes files <see cref="FileItWouldCreate"/> named, after their regions are unmapped (a peer keeps its mapping).</summary>
    internal static void DeleteCreatedFiles(IEnumerable<string> paths)
    {
        foreach (string path in paths)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a file that cannot be removed must not hide the error being reported.
            }
        }
    }

    internal static void AddToMap(AddressMap memory, SharedMemoryRegion region, int index)
    {
        try
        {
            memory.Add(region);
        }
        catch (AddressRangeException e)
        {
            // Only regions whose extent sysfs supplies get here; the rest were checked at load time.
            region.Dispose();
            throw new PlatformDescriptionException($"regions[{index}].deviceAddress", PlatformDescriptionValidator.Hex(region.DeviceAddress), e.Message.TrimEnd('.'), innerException: e);
        }
    }
}
