using System.Globalization;
using System.Numerics;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The cross-field rules of a <see cref="PlatformDescription"/>. Every rule that can be checked
/// without opening anything is checked here, so a bad file fails at load time with the JSON path of
/// the field; extents only known after opening (a uio map without a size) are checked again by
/// <see cref="PlatformResources"/>.
/// </summary>
internal static partial class PlatformDescriptionValidator
{
    private const ulong U32Max = uint.MaxValue;

    /// <summary>A named device-address range of the layout, for overlap and containment checks.</summary>
    private readonly record struct Extent(string Path, string What, ulong Start, ulong Length)
    {
        // Compared by last byte: a range may end exactly at 2^64 (FitsInAddressSpace allows it), where Start + Length is 0.
        public bool Overlaps(Extent other) =>
            Length != 0 && other.Length != 0 && Start <= other.Start + (other.Length - 1) && other.Start <= Start + (Length - 1);
    }

    internal static void Validate(PlatformDescription d)
    {
        ArgumentNullException.ThrowIfNull(d);
        Enum(d.Role, "role");
        Enum(d.WaitStrategy, "waitStrategy");
        Enum(d.Barriers, "barriers");
        ValidateAllowList(d.AllowedDevMemRanges);
        var regions = ValidateRegions(d);
        var table = ValidateResourceTable(d, regions);
        var vdev0 = ValidateVdev(d, regions, table);
        ValidateDoorbell(d);
        ValidateAdditionalVdevs(d, regions, table, vdev0);
    }

    // ---- regions -----------------------------------------------------------------------------

    private static void ValidateAllowList(IReadOnlyList<DevMemRange>? ranges)
    {
        if (ranges is null)
            return;
        for (int i = 0; i < ranges.Count; i++)
        {
            string p = $"allowedDevMemRanges[{i}]";
            var r = ranges[i] ?? throw Error(p, "null", "must be a { \"start\", \"size\" } object");
            if (r.Size == 0)
                throw Error(p + ".size", Hex(r.Size), "must be positive");
            if (!AddressRange.FitsInAddressSpace(r.Start, r.Size))
                throw Error(p + ".size", Hex(r.Size), $"the range at {Hex(r.Start)} wraps past the end of the 64-bit address space");
        }
    }

    /// <summary>Validates every region; returns the known extent of each (null when only sysfs knows it).</summary>
    private static Extent?[] ValidateRegions(PlatformDescription d)
    {
        if (d.Regions is null || d.Regions.Count == 0)
            throw Error("regions", d.Regions is null ? "null" : "[]", "at least one region is required");
        var extents = new Extent?[d.Regions.Count];
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var files = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < d.Regions.Count; i++)
        {
            string p = $"regions[{i}]";
            var r = d.Regions[i] ?? throw Error(p, "null", "must be a region object");
            if (string.IsNullOrEmpty(r.Name))
                throw Error(p + ".name", Str(r.Name), "must be a non-empty name");
            if (!names.TryAdd(r.Name, i))
                throw Error(p + ".name", Str(r.Name), $"regions[{names[r.Name]}] already has this name");
            Enum(r.Kind, p + ".kind");
            NoNulInRegion(r, p);
            ValidateKindFields(r, p);
            // Opening a shmFile sizes the file (create) or maps it: the same file again would resize it under the
            // first mapping (SIGBUS past the new end) or alias it at another device address.
            if (r.Kind == PlatformRegionKind.ShmFile && !files.TryAdd(Path.GetFullPath(r.Path!), i))
                throw Error(p + ".path", Str(r.Path), $"regions[{files[Path.GetFullPath(r.Path!)]}] is this file already; one file is one region");
            extents[i] = ValidateExtent(d, r, p);
        }
        for (int i = 0; i < extents.Length; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (extents[i] is { } a && extents[j] is { } b && a.Overlaps(b))
                    throw Error($"regions[{i}].deviceAddress", Hex(a.Start),
                        $"region '{d.Regions[i].Name}' [{Hex(a.Start)}, +{Hex(a.Length)}) overlaps regions[{j}] '{d.Regions[j].Name}' [{Hex(b.Start)}, +{Hex(b.Length)})");
            }
        }
        CheckNoAliases(d);
        return extents;
    }

    private static void ValidateKindFields(RegionDescription r, string p)
    {
        string kind = KindName(r.Kind);
        bool shm = r.Kind == PlatformRegionKind.ShmFile, uio = r.Kind == PlatformRegionKind.Uio, devMem = r.Kind == PlatformRegionKind.DevMem;
        OnlyFor(shm || devMem, r.Path, p + ".path", kind);
        OnlyFor(shm, r.Create, p + ".create", kind);
        OnlyFor(uio, r.Device, p + ".device", kind);
        OnlyFor(uio, r.DeviceName, p + ".deviceName", kind);
        OnlyFor(uio, r.MapIndex, p + ".mapIndex", kind);
        OnlyFor(uio, r.SysfsRoot, p + ".sysfsRoot", kind);
        OnlyFor(devMem, r.PhysicalAddress, p + ".physicalAddress", kind);
        if (r.Memory is { } memory)
        {
            Enum(memory, p + ".memory");
            // O_SYNC /dev/mem is always mapped uncached (Device-nGnRnE on ARM64): "normal" would allow accesses that fault.
            if (devMem && memory == PlatformMemoryType.Normal)
                throw Error(p + ".memory", "\"normal\"", "a devMem region is opened O_SYNC, which maps it uncached (Device memory on ARM64); omit the field or say \"device\"");
        }
        if (shm && string.IsNullOrEmpty(r.Path))
            throw Error(p + ".path", Str(r.Path), "a shmFile region needs the file's path");
        if (devMem && r.Path is "")
            throw Error(p + ".path", Str(r.Path), "must be a non-empty path (default /dev/mem)");
        if (uio)
        {
            ExactlyOne(r.Device, r.DeviceName, p);
            if (r.MapIndex is < 0 or >= MaxUioMaps)
                throw Error(p + ".mapIndex", Num(r.MapIndex), $"must be 0 to {MaxUioMaps - 1} (Linux UIO has at most {MaxUioMaps} maps, MAX_UIO_MAPS)");
            if (r.SysfsRoot is "")
                throw Error(p + ".sysfsRoot", Str(r.SysfsRoot), "must be a non-empty path (default /sys/class/uio)");
        }
        if (devMem && r.PhysicalAddress is null)
            throw Error(p + ".physicalAddress", "(missing)", "a devMem region needs its physical address");
    }

    private static Extent? ValidateExtent(PlatformDescription d, RegionDescription r, string p)
    {
        bool uio = r.Kind == PlatformRegionKind.Uio;
        if (r.Size is null)
        {
            if (uio)
                return null;
            throw Error(p + ".size", "(missing)", $"a region of kind '{KindName(r.Kind)}' needs its size");
        }
        ulong size = r.Size.Value;
        if (size == 0)
            throw Error(p + ".size", Hex(size), "must be positive");
        if (size > long.MaxValue)
            throw Error(p + ".size", Hex(size), "is larger than any mapping can be");
        if (r.Kind == PlatformRegionKind.DevMem)
            CheckAllowed(d, r, p, size);
        // The mapping keeps the physical address's place in its page: a ring or table the remote sees aligned would sit
        // misaligned in the host's view, where ordered and 8-byte accesses need the same alignment.
        if (r.Kind == PlatformRegionKind.DevMem && r.DeviceAddress is { } da && ((da ^ r.PhysicalAddress!.Value) & (ViewAlignment - 1)) != 0)
            throw Error(p + ".deviceAddress", Hex(da),
                $"differs from physicalAddress {Hex(r.PhysicalAddress.Value)} in its low 4 bits: an address the remote sees {ViewAlignment}-byte aligned would not be aligned in the host's mapping");
        ulong? address = DeviceAddress(r);
        if (address is null)
        {
            if (uio)
                return null;
            throw Error(p + ".deviceAddress", "(missing)", $"a region of kind '{KindName(r.Kind)}' needs the device address the remote sees it at");
        }
        if (!AddressRange.FitsInAddressSpace(address.Value, size))
            throw Error(p + ".size", Hex(size), $"the region at {Hex(address.Value)} wraps past the end of the 64-bit address space");
        return new Extent(p, $"region '{r.Name}'", address.Value, size);
    }

    // What a vring's descriptor table needs (virtio: 16), and more than any other shared structure.
    private const ulong ViewAlignment = 16;

    private static void CheckAllowed(PlatformDescription d, RegionDescription r, string p, ulong size)
    {
        ulong pa = r.PhysicalAddress!.Value;
        if (!AddressRange.FitsInAddressSpace(pa, size))
            throw Error(p + ".size", Hex(size), $"the physical range at {Hex(pa)} wraps past the end of the 64-bit address space");
        if (pa > long.MaxValue)
            throw Error(p + ".physicalAddress", Hex(pa), "is beyond the largest /dev/mem offset");
        foreach (var allowed in d.AllowedDevMemRanges ?? [])
        {
            if (AddressRange.TryTranslate(allowed.Start, allowed.Size, pa, size, out _))
                return;
        }
        throw Error(p + ".physicalAddress", Hex(pa),
            $"the physical range [{Hex(pa)}, +{Hex(size)}) is outside every range of allowedDevMemRanges " +
            $"({(d.AllowedDevMemRanges is { Count: > 0 } list ? string.Join(", ", list.Select(a => $"[{Hex(a.Start)}, +{Hex(a.Size)})")) : "none given")})");
    }

    /// <summary>The device address of a region when the description knows it (devMem defaults to its physical address).</summary>
    internal static ulong? DeviceAddress(RegionDescription r) =>
        r.DeviceAddress ?? (r.Kind == PlatformRegionKind.DevMem ? r.PhysicalAddress : null);

    // ---- resource table ----------------------------------------------------------------------

    private static Extent? ValidateResourceTable(PlatformDescription d, Extent?[] regions)
    {
        var t = d.ResourceTable;
        if (t is null)
            return null;
        int index = RegionIndex(d, t.Region, "resourceTable.region");
        if ((t.Offset & 3) != 0)
            throw Error("resourceTable.offset", Hex(t.Offset), "must be 4-byte aligned");
        if (t.Size is { } size && size < ResourceTable.HeaderSize)
            throw Error("resourceTable.size", Hex(size), $"must be at least the {ResourceTable.HeaderSize}-byte header");
        if (t.Size > int.MaxValue)
            throw Error("resourceTable.size", Hex(t.Size), "is too large");
        if (regions[index] is not { } region)
            return null;
        if (t.Offset > region.Length || region.Length - t.Offset < ResourceTable.HeaderSize)
            throw Error("resourceTable.offset", Hex(t.Offset), $"the table lies outside region '{t.Region}' (0x{region.Length:X} bytes)");
        if (t.Size is { } given && given > region.Length - t.Offset)
            throw Error("resourceTable.size", Hex(given), $"the table at offset {Hex(t.Offset)} runs past the end of region '{t.Region}' (0x{region.Length:X} bytes)");
        return new Extent("resourceTable.offset", "the resource table", region.Start + t.Offset, TableWindow(t, region.Length));
    }

    /// <summary>Bytes read as the table: the given size, else the default cut at the region end.</summary>
    internal static ulong TableWindow(ResourceTableLocation t, ulong regionSize) =>
        t.Size ?? Math.Min(ResourceTableLocation.DefaultSize, regionSize - t.Offset);

    // ---- vdev layout -------------------------------------------------------------------------

    /// <summary>Checks vdev 0's layout; returns its vrings (when placed) and pool, for the checks across vdevs.</summary>
    private static List<Extent> ValidateVdev(PlatformDescription d, Extent?[] regions, Extent? table)
    {
        var v = d.Vdev ?? throw Error("vdev", "null", "must be a vdev layout object");
        bool hasTable = d.ResourceTable is not null;
        if (v.VringNum is { } num && (num <= 0 || num > ResourceTable.MaxVringNum || !BitOperations.IsPow2(num)))
            throw Error("vdev.vringNum", Num(num), $"must be a power of two between 1 and {ResourceTable.MaxVringNum}");
        if (v.VringAlign is { } align && (align < 4 || !BitOperations.IsPow2(align)))
            throw Error("vdev.vringAlign", Num(align), "must be a power of two of at least 4");
        if (v.Features is { } features && (features & ~(ulong)VdevLayoutDescription.SupportedFeatures) != 0)
            throw Error("vdev.features", Hex(features),
                $"offers bits this stack does not implement (0x{features & ~(ulong)VdevLayoutDescription.SupportedFeatures:X}); "
                + $"a subset of 0x{VdevLayoutDescription.SupportedFeatures:X} (NS 0x1, EVENT_IDX 0x20000000) is allowed");
        if (v.Features is not null && !hasTable)
            throw Error("vdev.features", Hex(v.Features), "the offer is written in the resource table's vdev entry, which needs a resource table");
        if (v.VringRegion is not null)
        {
            RegionIndex(d, v.VringRegion, "vdev.vringRegion");
            if (!hasTable)
                throw Error("vdev.vringRegion", Str(v.VringRegion), "only used to place ADDR_ANY vrings, which needs a resource table");
        }
        ValidateVringAddress(d, v.Vring0Address, "vdev.vring0Address", hasTable);
        ValidateVringAddress(d, v.Vring1Address, "vdev.vring1Address", hasTable);

        if (v.BufferCount is { } count && (count < 2 || (count & 1) != 0))
            throw Error("vdev.bufferCount", Num(count), "must be an even number of at least 2 (half rx, half tx)");
        if (v.BufferSize is { } bufferSize && (bufferSize < 32 || bufferSize > 16 + ushort.MaxValue || (bufferSize & 7) != 0))
            throw Error("vdev.bufferSize", Num(bufferSize), $"must be a multiple of 8 between 32 and {16 + ushort.MaxValue} (16-byte header plus payload)");
        int bufferCount = v.BufferCount ?? VdevLayoutDescription.DefaultBufferCount;
        ulong poolBytes = (ulong)bufferCount * (ulong)(v.BufferSize ?? VdevLayoutDescription.DefaultBufferSize);
        if (v.BufferPoolSize is { } poolSize && poolSize < poolBytes)
            throw Error("vdev.bufferPoolSize", Hex(poolSize), $"{bufferCount} buffers of {v.BufferSize ?? VdevLayoutDescription.DefaultBufferSize} bytes need {Hex(poolBytes)}");
        ulong pool = v.BufferPoolAddress ?? throw Error("vdev.bufferPoolAddress", "(missing)", "the buffer pool's device address is required");
        if ((pool & 7) != 0)
            throw Error("vdev.bufferPoolAddress", Hex(pool), "must be 8-byte aligned");
        if (!AddressRange.FitsInAddressSpace(pool, v.BufferPoolSize ?? poolBytes))
            throw Error("vdev.bufferPoolAddress", Hex(pool), "the pool wraps past the end of the 64-bit address space");

        // A host with a table takes num/align from it; everyone else uses the description or the defaults.
        bool numFromTable = hasTable && d.Role == PlatformRole.Host;
        int? effectiveNum = v.VringNum ?? (numFromTable ? null : VdevLayoutDescription.DefaultVringNum);
        int? effectiveAlign = v.VringAlign ?? (numFromTable ? null : VdevLayoutDescription.DefaultVringAlign);
        if (effectiveNum is { } n && bufferCount / 2 > n)
            throw Error("vdev.bufferCount", Num(bufferCount), $"{bufferCount / 2} rx buffers do not fit in a vring of {n} entries");

        var layout = new List<Extent>();
        if (table is { } t)
            layout.Add(t);
        if (effectiveNum is { } ringNum && effectiveAlign is { } ringAlign)
        {
            ulong ringBytes = VringGeometry.Bytes((ulong)ringNum, (ulong)ringAlign);
            AddVring(v.Vring0Address, "vdev.vring0Address", "vring 0", ringBytes, ringAlign, layout);
            AddVring(v.Vring1Address, "vdev.vring1Address", "vring 1", ringBytes, ringAlign, layout);
        }
        layout.Add(new Extent("vdev.bufferPoolAddress", "the buffer pool", pool, v.BufferPoolSize ?? poolBytes));
        CheckLayout(layout, regions);
        if (table is not null)
            layout.RemoveAt(0);
        return layout;
    }

    private static void ValidateVringAddress(PlatformDescription d, ulong? address, string path, bool hasTable)
    {
        if (address is null)
        {
            if (!hasTable)
                throw Error(path, "(missing)", "without a resource table both vring addresses are required");
            if (d.Role == PlatformRole.Remote)
                throw Error(path, "(missing)", "the remote writes the resource table, so it needs both vring addresses (or ADDR_ANY)");
            return;
        }
        if (address == ResourceTable.AddrAny && !hasTable)
            throw Error(path, JsonHexConverter.AddrAnyText, "ADDR_ANY needs a resource table to carry the chosen address to the peer");
        if (hasTable && address > U32Max)
            throw Error(path, Hex(address), "a resource table holds 32-bit vring addresses");
    }

    private static void AddVring(ulong? address, string path, string what, ulong bytes, int align, List<Extent> layout)
    {
        if (address is not { } a || a == ResourceTable.AddrAny)
            return;
        if ((a & (ulong)(align - 1)) != 0)
            throw Error(path, Hex(a), $"must be aligned to the vring alignment {Hex((ulong)align)}");
        if (!AddressRange.FitsInAddressSpace(a, bytes))
            throw Error(path, Hex(a), "the vring wraps past the end of the 64-bit address space");
        layout.Add(new Extent(path, what, a, bytes));
    }

    /// <summary>Each layout part lies inside one region (when extents are known) and parts do not overlap.</summary>
    private static void CheckLayout(List<Extent> layout, Extent?[] regions)
    {
        bool allKnown = regions.All(r => r is not null);
        for (int i = 0; i < layout.Count; i++)
        {
            var part = layout[i];
            bool inside = regions.Any(r => r is { } region && AddressRange.TryTranslate(region.Start, region.Length, part.Start, part.Length, out _));
            // With a region whose extent only sysfs knows, PlatformResources checks at open instead.
            if (!inside && allKnown)
                throw Error(part.Path, Hex(part.Start), $"{part.What} [{Hex(part.Start)}, +{Hex(part.Length)}) is not wholly inside any one region");
            for (int j = 0; j < i; j++)
            {
                if (part.Overlaps(layout[j]))
                    throw Error(part.Path, Hex(part.Start), $"{part.What} [{Hex(part.Start)}, +{Hex(part.Length)}) overlaps {layout[j].What} [{Hex(layout[j].Start)}, +{Hex(layout[j].Length)})");
            }
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static int RegionIndex(PlatformDescription d, string? name, string path)
    {
        for (int i = 0; i < d.Regions.Count; i++)
        {
            if (d.Regions[i].Name == name)
                return i;
        }
        throw Error(path, Str(name), $"no region has this name (regions: {string.Join(", ", d.Regions.Select(r => $"'{r.Name}'"))})");
    }

    private static void OnlyFor(bool allowed, object? value, string path, string kind)
    {
        if (!allowed && value is not null)
            throw Error(path, Show(value), $"not used by kind '{kind}'");
    }

    private static void ExactlyOne(string? device, string? deviceName, string p)
    {
        if (device is null == deviceName is null)
            throw Error(p + ".device", Str(device), $"give exactly one of {p}.device (\"uio0\") and {p}.deviceName (the sysfs name){(device is null ? "" : $"; deviceName is {Str(deviceName)}")}");
        if (device is "" || deviceName is "")
            throw Error(device is "" ? p + ".device" : p + ".deviceName", "\"\"", "must not be empty");
    }

    private static void Enum<TEnum>(TEnum value, string path) where TEnum : struct, System.Enum
    {
        if (!System.Enum.IsDefined(value))
            throw Error(path, value.ToString(), $"must be one of {JsonCamelCaseEnumConverter<TEnum>.Expected}");
    }

    private static string KindName(PlatformRegionKind kind) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(kind.ToString());

    private static PlatformDescriptionException Error(string path, string value, string detail) => new(path, value, detail);

    private const int MaxUioMaps = 5; // include/linux/uio_driver.h

    internal static string Hex(ulong? value) => value is { } v ? "0x" + v.ToString("X", CultureInfo.InvariantCulture) : "(missing)";

    private static string Num(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "(missing)";

    private static string Str(string? value) => value is null ? "(missing)" : $"\"{value}\"";

    private static string Show(object value) => value switch
    {
        string s => Str(s),
        bool b => b ? "true" : "false",
        ulong u => Hex(u),
        int i => Num(i),
        ulong[] words => "[" + string.Join(", ", words.Select(w => Hex(w))) + "]",
        int[] numbers => "[" + string.Join(", ", numbers) + "]",
        System.Enum e => $"\"{System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(e.ToString())}\"",
        _ => "{...}",
    };
}
