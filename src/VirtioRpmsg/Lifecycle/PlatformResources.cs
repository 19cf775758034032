using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// What a <see cref="PlatformDescription"/> opens: its regions mapped into one <see cref="AddressMap"/>,
/// the resource table (if any) and the resolved rpmsg vdev layout, plus the doorbell on demand.
/// Open is all or nothing: if any step fails, everything already opened is disposed before the
/// exception leaves. Dispose unmaps every region; a host's also removes the shared-memory files that its
/// Open created ("create": true on a path that did not exist). Single owner: not for concurrent use.
/// </summary>
/// <remarks>
/// The resource table lives in memory the peer can write, so it is read once into a private copy
/// (<see cref="Lifecycle.ResourceTable.Read"/>) and only the copy is used. Layout values taken from
/// it are checked against the mapped regions and against each other before they are exposed.
/// </remarks>
public sealed class PlatformResources : IDisposable
{
    private readonly SharedMemoryRegion[] _regions;
    private readonly string[] _createdFiles;
    private AddressMap _memory;
    private readonly ResourceTableLocation? _tableLocation;
    private ulong? _vring0, _vring1;
    private int? _vringNum, _vringAlign;
    private bool _disposed;

    private PlatformResources(PlatformDescription description, SharedMemoryRegion[] regions, string[] createdFiles, AddressMap memory)
    {
        Description = description;
        _regions = regions;
        _createdFiles = createdFiles;
        _memory = memory;
        _tableLocation = description.ResourceTable;
        var v = description.Vdev;
        BufferCount = v.BufferCount ?? VdevLayoutDescription.DefaultBufferCount;
        BufferSize = v.BufferSize ?? VdevLayoutDescription.DefaultBufferSize;
        BufferPoolAddress = v.BufferPoolAddress!.Value;
        BufferPoolSize = v.BufferPoolSize ?? (ulong)BufferCount * (ulong)BufferSize;
        if (_tableLocation is { } t)
        {
            ResourceTableRegion = GetRegion(t.Region);
            ResourceTableOffset = (long)t.Offset;
            ResourceTableSize = (int)PlatformDescriptionValidator.TableWindow(t, (ulong)ResourceTableRegion.Size);
        }
    }

    /// <summary>The description this was opened from.</summary>
    public PlatformDescription Description { get; }

    /// <summary>This side's role, from the description.</summary>
    public PlatformRole Role => Description.Role;

    /// <summary>The wait strategy the description asks for.</summary>
    public PlatformWaitStrategy WaitStrategy => Description.WaitStrategy;

    /// <summary>
    /// Every region, in device address order, bound to its current mapping generation: after a region
    /// is unmapped or remapped this returns a new map bound to the new generation, so objects built from
    /// an earlier map fail with <see cref="StaleMappingException"/> while new ones use the new mapping.
    /// </summary>
    public AddressMap Memory => _memory.IsStale ? _memory = _memory.Rebind() : _memory;

    /// <summary>The regions in description order.</summary>
    public IReadOnlyList<SharedMemoryRegion> Regions => _regions;

    /// <summary>The region holding the resource table; null without one.</summary>
    public SharedMemoryRegion? ResourceTableRegion { get; }

    /// <summary>Offset of the resource table in <see cref="ResourceTableRegion"/>.</summary>
    public long ResourceTableOffset { get; }

    /// <summary>Bytes reserved for the table (the bound it is parsed against).</summary>
    public int ResourceTableSize { get; }

    /// <summary>The parsed table: after Open (host) or <see cref="WriteResourceTable"/> / <see cref="LoadResourceTable"/>.</summary>
    public ResourceTable? ResourceTable { get; private set; }

    /// <summary>The rpmsg vdev of <see cref="ResourceTable"/> as parsed (ADDR_ANY vrings keep ADDR_ANY here; the resolved addresses are below).</summary>
    public VdevEntry? RpmsgVdev { get; private set; }

    /// <summary>True once the vring addresses, num and align are known.</summary>
    public bool IsLayoutResolved => _vring0 is not null && _vring1 is not null && _vringNum is not null && _vringAlign is not null;

    /// <summary>Device address of vring 0 (device to driver).</summary>
    public ulong Vring0Address => _vring0 ?? throw Unresolved();

    /// <summary>Device address of vring 1 (driver to device).</summary>
    public ulong Vring1Address => _vring1 ?? throw Unresolved();

    /// <summary>Entries per vring, from the table or the description.</summary>
    public int VringNum => _vringNum ?? throw Unresolved();

    /// <summary>Alignment of the used ring in each vring, from the table or the description.</summary>
    public int VringAlign => _vringAlign ?? throw Unresolved();

    /// <summary>Device address of the buffer pool.</summary>
    public ulong BufferPoolAddress { get; }

    /// <summary>Bytes reserved for the pool (at least <see cref="BufferCount"/> * <see cref="BufferSize"/>).</summary>
    public ulong BufferPoolSize { get; }

    /// <summary>Buffers in the pool: the first half rx, the second half tx.</summary>
    public int BufferCount { get; }

    /// <summary>Bytes per buffer, the 16-byte rpmsg header included.</summary>
    public int BufferSize { get; }

    /// <summary>The region called <paramref name="name"/> in the description.</summary>
    public SharedMemoryRegion GetRegion(string name)
    {
        for (int i = 0; i < _regions.Length; i++)
        {
            if (Description.Regions[i].Name == name)
                return _regions[i];
        }
        throw new KeyNotFoundException($"The platform description has no region named '{name}'.");
    }

    // ---- open --------------------------------------------------------------------------------

    /// <summary>
    /// Validates <paramref name="description"/>, maps its regions, and resolves the layout: from the
    /// description (no table; a remote before it writes its table) or from the resource table (a host,
    /// which also chooses and writes back ADDR_ANY vring addresses).
    /// </summary>
    public static PlatformResources Open(PlatformDescription description, PlatformOpenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        options ??= new PlatformOpenOptions();
        description.Validate();
        var opened = new List<SharedMemoryRegion>();
        var created = new List<string>();
        try
        {
            var memory = new AddressMap();
            for (int i = 0; i < description.Regions.Count; i++)
            {
                // Listed before opening: a region that fails after creating its file (ftruncate, mmap) still removes it.
                // Only a host's: a remote's file is managed by its program (rpmsg remote removes it on exit).
                if (description.Role == PlatformRole.Host && PlatformRegions.FileItWouldCreate(description.Regions[i]) is { } creates)
                    created.Add(creates);
                var region = PlatformRegions.Open(description, i, options);
                opened.Add(region);
                PlatformRegions.AddToMap(memory, region, i);
            }
            var resources = new PlatformResources(description, [.. opened], [.. created], memory);
            resources.ResolveFromDescription();
            if (description.ResourceTable is not null && description.Role == PlatformRole.Host && options.ReadResourceTable)
                resources.LoadResourceTable();
            return resources;
        }
        catch
        {
            for (int i = opened.Count - 1; i >= 0; i--)
                opened[i].Dispose();
            PlatformRegions.DeleteCreatedFiles(created);
            throw;
        }
    }

    /// <summary>Takes what the description fixes; checks it against the mapped memory (uio extents are known only now).</summary>
    private void ResolveFromDescription()
    {
        var v = Description.Vdev;
        bool tableDecides = _tableLocation is not null && Role == PlatformRole.Host;
        if (_tableLocation is { } t && ResourceTableRegion!.Size - (long)t.Offset < ResourceTable.HeaderSize)
            throw new PlatformDescriptionException("resourceTable.offset", PlatformDescriptionValidator.Hex(t.Offset), $"the table lies outside region '{t.Region}' (0x{ResourceTableRegion.Size:X} bytes)");
        RequireMapped(BufferPoolAddress, BufferPoolSize, "vdev.bufferPoolAddress", "the buffer pool");
        if (tableDecides)
            return;
        _vringNum = v.VringNum ?? VdevLayoutDescription.DefaultVringNum;
        _vringAlign = v.VringAlign ?? VdevLayoutDescription.DefaultVringAlign;
        ulong bytes = VringGeometry.Bytes((ulong)_vringNum, (ulong)_vringAlign);
        // ADDR_ANY stays unresolved until the remote reads back what the host chose.
        if (v.Vring0Address is { } a0 && a0 != ResourceTable.AddrAny)
            _vring0 = RequireMapped(a0, bytes, "vdev.vring0Address", "vring 0");
        if (v.Vring1Address is { } a1 && a1 != ResourceTable.AddrAny)
            _vring1 = RequireMapped(a1, bytes, "vdev.vring1Address", "vring 1");
    }

    private ulong RequireMapped(ulong address, ulong length, string path, string what)
    {
        if (!Memory.TryTranslate(address, length, out _, out _))
            throw new PlatformDescriptionException(path, PlatformDescriptionValidator.Hex(address), $"{what} [0x{address:X}, +0x{length:X}) is not wholly inside any one mapped region");
        return address;
    }

    // ---- resource table ----------------------------------------------------------------------

    /// <summary>
    /// Remote: writes the OpenAMP-style resource table (one rpmsg vdev, dfeatures = <paramref name="deviceFeatures"/>,
    /// else the description's <see cref="VdevLayoutDescription.Features"/> (default NS only), vdev notifyid 0, vrings from the description
    /// with notifyid 1 and 2, ADDR_ANY allowed) at its location, publishing the version word last so a
    /// reader never sees a half-written table as valid. Returns the parsed table.
    /// </summary>
    public ResourceTable WriteResourceTable(uint? deviceFeatures = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Role != PlatformRole.Remote)
            throw new InvalidOperationException("Only the remote writes the resource table; the host reads it.");
        if (_tableLocation is null)
            throw new InvalidOperationException("The platform description has no resource table (resourceTable is \"none\").");
        var v = Description.Vdev;
        uint num = (uint)VringNum, align = (uint)VringAlign;
        byte[] bytes = new ResourceTableBuilder()
            .AddVdev(RpmsgFeatures.VirtioDeviceId, notifyId: 0, deviceFeatures: deviceFeatures ?? Description.Vdev.EffectiveFeatures, guestFeatures: 0, status: 0,
            [
                new VringSpec((uint)v.Vring0Address!.Value, align, num, 1, 0),
                new VringSpec((uint)v.Vring1Address!.Value, align, num, 2, 0),
            ])
            .Build();
        if (bytes.Length > ResourceTableSize)
            throw new PlatformDescriptionException("resourceTable.size", PlatformDescriptionValidator.Hex((ulong)ResourceTableSize), $"the {bytes.Length}-byte table does not fit");
        var table = ResourceTable.Parse(bytes);
        using (var lease = ResourceTableRegion!.Acquire())
        {
            // Version 0 first: a reader of an older table stops trusting it before any field changes.
            lease.WriteUInt32Release(ResourceTableOffset, 0);
            lease.WriteBytes(ResourceTableOffset + 4, bytes.AsSpan(4));
            lease.WriteUInt32Release(ResourceTableOffset, ResourceTable.SupportedVersion);
        }
        ResourceTable = table;
        RpmsgVdev = table.GetRpmsgVdev();
        return table;
    }

    /// <summary>
    /// Reads the resource table once into a private copy, validates it, and resolves the layout from
    /// its rpmsg vdev. A host chooses an address for each ADDR_ANY vring (the description's, else the
    /// first free aligned range of the vring region) and writes it back; a remote takes what the host wrote.
    /// </summary>
    /// <exception cref="ResourceTableException">The table is malformed, or a vring lies outside memory or overlaps.</exception>
    /// <exception cref="PlatformDescriptionException">The table contradicts the description.</exception>
    public ResourceTable LoadResourceTable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_tableLocation is null)
            throw new InvalidOperationException("The platform description has no resource table (resourceTable is \"none\").");
        ResourceTable table;
        using (var lease = ResourceTableRegion!.Acquire())
            table = ResourceTable.Read(lease, ResourceTableOffset, ResourceTableSize);
        var vdev = table.GetRpmsgVdev();
        var v = Description.Vdev;
        VdevVring r0 = vdev.Vrings[0], r1 = vdev.Vrings[1];
        if (r1.Num != r0.Num)
            throw new ResourceTableException("vring[1].num", vdev.Index, r1.Num, $"differs from vring 0's num {r0.Num}; both rpmsg vrings must have the same size");
        if (r1.Align != r0.Align)
            throw new ResourceTableException("vring[1].align", vdev.Index, r1.Align, $"differs from vring 0's align {r0.Align}");
        if (r0.Align < 4)
            throw new ResourceTableException("vring[0].align", vdev.Index, r0.Align, "must be at least 4");
        Agree(v.VringNum, r0.Num, "vdev.vringNum");
        Agree(v.VringAlign, r0.Align, "vdev.vringAlign");
        if (BufferCount / 2 > r0.Num)
            throw new PlatformDescriptionException("vdev.bufferCount", BufferCount.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{BufferCount / 2} rx buffers do not fit in the table's vrings of {r0.Num} entries");

        ulong bytes = VringGeometry.Bytes(r0.Num, r0.Align);
        var taken = new List<(ulong Start, ulong Length, string What)>
        {
            (ResourceTableRegion.DeviceAddress + (ulong)ResourceTableOffset, (ulong)ResourceTableSize, "the resource table"),
            (BufferPoolAddress, BufferPoolSize, "the buffer pool"),
        };
        var addresses = new ulong?[2];
        ulong?[] wanted = [v.Vring0Address, v.Vring1Address];
        // Fixed rings first, so that a chosen address never lands on one.
        for (int i = 0; i < 2; i++)
        {
            var ring = vdev.Vrings[i];
            if (ring.NeedsAddress)
                continue;
            if (wanted[i] is { } w && w != ResourceTable.AddrAny && w != ring.DeviceAddress)
                throw new PlatformDescriptionException($"vdev.vring{i}Address", PlatformDescriptionValidator.Hex(w), $"the resource table says 0x{ring.DeviceAddress:X}");
            addresses[i] = CheckRing(vdev, i, ring.DeviceAddress, bytes, r0.Align, taken);
        }
        for (int i = 0; i < 2; i++)
        {
            if (addresses[i] is not null)
                continue;
            if (Role == PlatformRole.Remote)
                throw new ResourceTableException($"vring[{i}].da", vdev.Index, ResourceTable.AddrAny, "is still ADDR_ANY: the host has not chosen an address yet");
            ulong chosen = wanted[i] is { } w && w != ResourceTable.AddrAny
                ? CheckRing(vdev, i, w, bytes, r0.Align, taken)
                : ChooseRingAddress(i, bytes, r0.Align, taken);
            using (var lease = ResourceTableRegion.Acquire())
                new ResourceTableWriter(table).SetVringAddress(lease, ResourceTableOffset, vdev, i, (uint)chosen, (uint)chosen);
            addresses[i] = chosen;
        }
        ResourceTable = table;
        RpmsgVdev = vdev;
        _vringNum = (int)r0.Num;
        _vringAlign = (int)r0.Align;
        _vring0 = addresses[0];
        _vring1 = addresses[1];
        return table;
    }

    private static void Agree(int? described, uint fromTable, string path)
    {
        if (described is { } d && (uint)d != fromTable)
            throw new PlatformDescriptionException(path, d.ToString(System.Globalization.CultureInfo.InvariantCulture), $"the resource table says {fromTable}");
    }

    /// <summary>Checks a vring address (from the table or the description) and reserves its range.</summary>
    private ulong CheckRing(VdevEntry vdev, int index, ulong address, ulong bytes, uint align, List<(ulong Start, ulong Length, string What)> taken)
    {
        string field = $"vring[{index}].da";
        if ((address & (align - 1)) != 0)
            throw new ResourceTableException(field, vdev.Index, address, $"is not aligned to the vring alignment 0x{align:X}");
        if (!Memory.TryTranslate(address, bytes, out _, out _))
            throw new ResourceTableException(field, vdev.Index, address, $"the 0x{bytes:X}-byte vring is not wholly inside any one mapped region");
        foreach (var (start, length, what) in taken)
        {
            if (address < start + length && start < address + bytes)
                throw new ResourceTableException(field, vdev.Index, address, $"the 0x{bytes:X}-byte vring overlaps {what} [0x{start:X}, +0x{length:X})");
        }
        taken.Add((address, bytes, $"vring {index}"));
        return address;
    }

    /// <summary>The lowest aligned range of the vring region that overlaps nothing taken and fits a 32-bit table field.</summary>
    private ulong ChooseRingAddress(int index, ulong bytes, uint align, List<(ulong Start, ulong Length, string What)> taken)
    {
        string regionName = Description.Vdev.VringRegion ?? _tableLocation!.Region;
        var region = GetRegion(regionName);
        ulong regionEnd = region.DeviceAddress + (ulong)region.Size; // fits: checked at region creation
        ulong candidate = region.DeviceAddress;
        while (TryAlignUp(candidate, align, out candidate) && candidate <= regionEnd && bytes <= regionEnd - candidate
            && candidate + bytes - 1 < ResourceTable.AddrAny)
        {
            var clash = taken.FirstOrDefault(t => candidate < t.Start + t.Length && t.Start < candidate + bytes);
            if (clash.What is null)
            {
                taken.Add((candidate, bytes, $"vring {index}"));
                return candidate;
            }
            candidate = clash.Start + clash.Length;
        }
        throw new PlatformDescriptionException(Description.Vdev.VringRegion is null ? "resourceTable.region" : "vdev.vringRegion", $"\"{regionName}\"",
            $"no free 0x{bytes:X}-byte range aligned to 0x{align:X} below 4 GiB is left in the region for vring {index} (ADDR_ANY)");
    }

    private static bool TryAlignUp(ulong value, ulong align, out ulong aligned)
    {
        aligned = (value + (align - 1)) & ~(ulong)(align - 1);
        return aligned >= value;
    }

    // ---- doorbell ----------------------------------------------------------------------------

    /// <summary>
    /// Creates this side's doorbell as described: eventfd (the host creates the pair and sends the
    /// peer's end; the remote receives it), unixSocket (server accepts, client connects; default
    /// server for the remote, client for the host), uio (interrupt in, mailbox out) or polling
    /// (<see cref="PlatformDoorbellOptions.HasWork"/>). The caller owns and disposes the result.
    /// </summary>
    public IDoorbell CreateDoorbell(PlatformDoorbellOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return PlatformDoorbells.Create(this, options ?? new PlatformDoorbellOptions());
    }

    private InvalidOperationException Unresolved() => new(_tableLocation is null
        ? "The vdev layout is not resolved."
        : "The vdev layout comes from the resource table, which has not been loaded (or still has ADDR_ANY vrings): call LoadResourceTable.");

    /// <summary>
    /// Unmaps every region (in reverse order), then (a host) removes the files Open created; a peer that
    /// mapped one keeps its mapping. A remote's files are its program's (it may outlive this object). Doorbells made by <see cref="CreateDoorbell"/> are the caller's.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            for (int i = _regions.Length - 1; i >= 0; i--)
                _regions[i].Dispose();
        }
        finally
        {
            PlatformRegions.DeleteCreatedFiles(_createdFiles);
        }
    }
}
