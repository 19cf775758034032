namespace VirtioRpmsg.Lifecycle;

// One piece of memory is one region, and a file name is a C string: the rules that keep a region from mapping memory
// another region maps already, and a path from naming another file than the one written.
internal static partial class PlatformDescriptionValidator
{
    /// <summary>
    /// A NUL in a path or device name: open(2) and sysfs see the name only up to it ("/dev/shm/a\0b" would open
    /// "/dev/shm/a"), and .NET's file APIs refuse it with an ArgumentException.
    /// </summary>
    private static void NoNul(string? value, string path)
    {
        if (value is not null && value.Contains('\0'))
            throw Error(path, Str(value), "must not contain a NUL character (a file or device name ends at the first NUL)");
    }

    private static void NoNulInRegion(RegionDescription r, string p)
    {
        NoNul(r.Path, p + ".path");
        NoNul(r.Device, p + ".device");
        NoNul(r.DeviceName, p + ".deviceName");
        NoNul(r.SysfsRoot, p + ".sysfsRoot");
    }

    /// <summary>
    /// Two uio regions on the same map of the same device, or two devMem regions of one memory device whose physical
    /// ranges overlap, map the same memory twice (at two device addresses): a write through one region is a write
    /// through the other, which the layout checks (device addresses) cannot see. Refused, as one shmFile in two regions is.
    /// A uio device named by <c>deviceName</c> is compared by name here (one named by <c>device</c> and the other by
    /// <c>deviceName</c> can only be compared once sysfs is read).
    /// </summary>
    private static void CheckNoAliases(PlatformDescription d)
    {
        for (int i = 0; i < d.Regions.Count; i++)
        {
            for (int j = 0; j < i; j++)
                CheckNoAlias(d, j, i);
        }
    }

    private static void CheckNoAlias(PlatformDescription d, int first, int second)
    {
        RegionDescription a = d.Regions[first], b = d.Regions[second];
        string p = $"regions[{second}]";
        if (a.Kind == PlatformRegionKind.Uio && b.Kind == PlatformRegionKind.Uio && UioMap(a) is { } mapA && mapA == UioMap(b))
        {
            throw Error(p + ".mapIndex", Num(b.MapIndex ?? 0),
                $"region '{b.Name}' is {mapA} again, as regions[{first}] '{a.Name}' is: the same memory would be mapped twice, "
                + "at two device addresses; one UIO map is one region");
        }
        if (a.Kind == PlatformRegionKind.DevMem && b.Kind == PlatformRegionKind.DevMem && MemoryDevice(a) == MemoryDevice(b)
            && a.Size is { } sizeA && b.Size is { } sizeB && a.PhysicalAddress is { } pa && b.PhysicalAddress is { } pb)
        {
            var ea = new Extent("", "", pa, sizeA);
            var eb = new Extent("", "", pb, sizeB);
            if (!ea.Overlaps(eb))
                return;
            ulong start = Math.Max(pa, pb);
            ulong last = Math.Min(pa + (sizeA - 1), pb + (sizeB - 1));
            throw Error(p + ".physicalAddress", Hex(pb),
                $"region '{b.Name}' [{Hex(pb)}, +{Hex(sizeB)}) of {MemoryDevice(b)} overlaps regions[{first}] '{a.Name}' [{Hex(pa)}, +{Hex(sizeA)}) "
                + $"in [{Hex(start)}, +{Hex(last - start + 1)}): the same physical memory would be mapped twice; describe it as one region");
        }
    }

    /// <summary>"map N of /dev/uioX" (or of the device named X in a sysfs tree), as the region opens it.</summary>
    private static string? UioMap(RegionDescription r)
    {
        int map = r.MapIndex ?? 0;
        if (r.Device is { Length: > 0 } device)
            return $"map {map} of {System.IO.Path.GetFullPath(device.Contains('/') ? device : "/dev/" + device)}";
        if (r.DeviceName is { Length: > 0 } name)
            return $"map {map} of the UIO device named \"{name}\" in {System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(r.SysfsRoot ?? Platform.UioDoorbell.DefaultSysfsRoot))}";
        return null;
    }

    private static string MemoryDevice(RegionDescription r) => System.IO.Path.GetFullPath(r.Path ?? "/dev/mem");
}
