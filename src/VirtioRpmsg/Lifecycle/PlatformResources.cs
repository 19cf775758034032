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
public sealed partial class PlatformResources : IDisposable
{
    private readonly SharedMemoryRegion[] _regions;
    private readonly string[] _createdFiles;
    private AddressMap _memory;
    private readonly ResourceTableLocation? _tableLocation;
    private readonly PlatformVdev[] _vdevs;
    private bool _disposed;

    private PlatformResources(PlatformDescription description, SharedMemoryRegion[] regions, string[] createdFiles, AddressMap memory)
    {
        Description = description;
        _regions = regions;
        _createdFiles = createdFiles;
        _memory = memory;
        _tableLocation = description.ResourceTable;
        _vdevs = new PlatformVdev[description.VdevCount];
        for (int i = 0; i < _vdevs.Length; i++)
            _vdevs[i] = new PlatformVdev(i, description.GetVdev(i), _tableLocation is not null);
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

    /// <summary>
    /// The parsed table: after Open (host) or <see cref="WriteResourceTable"/> / <see cref="LoadResourceTable"/>. A host's
    /// notify ids and the carveouts it allocated (ADDR_ANY) show as written; ADDR_ANY vrings keep ADDR_ANY (resolved in <see cref="Vdevs"/>).
    /// </summary>
    public ResourceTable? ResourceTable { get; private set; }

    /// <summary>Every rpmsg vdev: 0 is the description's <c>vdev</c>, then <c>additionalVdevs</c> in order.</summary>
    public IReadOnlyList<PlatformVdev> Vdevs => _vdevs;

    /// <summary>Vdev 0's entry of <see cref="ResourceTable"/> as parsed (ADDR_ANY vrings keep ADDR_ANY here; the resolved addresses are below).</summary>
    public VdevEntry? RpmsgVdev => _vdevs[0].Entry;

    /// <summary>True once the vring addresses, num and align of every vdev are known.</summary>
    public bool IsLayoutResolved => _vdevs.All(v => v.IsLayoutResolved);

    /// <summary>Device address of vdev 0's vring 0 (device to driver).</summary>
    public ulong Vring0Address => _vdevs[0].Vring0Address;

    /// <summary>Device address of vdev 0's vring 1 (driver to device).</summary>
    public ulong Vring1Address => _vdevs[0].Vring1Address;

    /// <summary>Entries per vring of vdev 0, from the table or the description.</summary>
    public int VringNum => _vdevs[0].VringNum;

    /// <summary>Alignment of the used ring in each vring of vdev 0, from the table or the description.</summary>
    public int VringAlign => _vdevs[0].VringAlign;

    /// <summary>Device address of vdev 0's buffer pool.</summary>
    public ulong BufferPoolAddress => _vdevs[0].BufferPoolAddress;

    /// <summary>Bytes reserved for vdev 0's pool (at least <see cref="BufferCount"/> * <see cref="BufferSize"/>).</summary>
    public ulong BufferPoolSize => _vdevs[0].BufferPoolSize;

    /// <summary>Buffers in vdev 0's pool: the first half rx, the second half tx.</summary>
    public int BufferCount => _vdevs[0].BufferCount;

    /// <summary>Bytes per buffer of vdev 0, the 16-byte rpmsg header included.</summary>
    public int BufferSize => _vdevs[0].BufferSize;

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
    /// <exception cref="PlatformDescriptionException">The description is invalid, or what it names disagrees with the system (the JSON path is named).</exception>
    /// <exception cref="ResourceTableException">The resource table is missing or malformed (the field is named).</exception>
    /// <exception cref="Interop.NativeCallException">A file or device could not be opened or mapped (the call and errno are named).</exception>
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
        catch (Exception e)
        {
            for (int i = opened.Count - 1; i >= 0; i--)
                opened[i].Dispose();
            PlatformRegions.DeleteCreatedFiles(created);
            if (e is PlatformDescriptionException d && Unnamed(description, d))
                throw d.WithSource(description.SourceFile!);
            throw;
        }
    }

    // A description loaded from a file: what opening (or a later step) finds wrong with it names the file, as Load does.
    private static bool Unnamed(PlatformDescription description, PlatformDescriptionException e) => e.Source is null && description.SourceFile is not null;

    /// <summary>Takes what the description fixes; checks it against the mapped memory (uio extents are known only now).</summary>
    private void ResolveFromDescription()
    {
        bool tableDecides = _tableLocation is not null && Role == PlatformRole.Host;
        if (_tableLocation is { } t && ResourceTableRegion!.Size - (long)t.Offset < ResourceTable.HeaderSize)
            throw new PlatformDescriptionException("resourceTable.offset", PlatformDescriptionValidator.Hex(t.Offset), $"the table lies outside region '{t.Region}' (0x{ResourceTableRegion.Size:X} bytes)");
        foreach (var vdev in _vdevs)
        {
            var v = vdev.Description.Vdev;
            RequireMapped(vdev.BufferPoolAddress, vdev.BufferPoolSize, vdev.PathOf("bufferPoolAddress"), "the buffer pool");
            if (tableDecides)
                continue;
            vdev.Num = v.VringNum ?? VdevLayoutDescription.DefaultVringNum;
            vdev.Align = v.VringAlign ?? VdevLayoutDescription.DefaultVringAlign;
            ulong bytes = VringGeometry.Bytes((ulong)vdev.Num, (ulong)vdev.Align);
            // ADDR_ANY stays unresolved until the remote reads back what the host chose.
            if (v.Vring0Address is { } a0 && a0 != ResourceTable.AddrAny)
                vdev.Vring0 = RequireMapped(a0, bytes, vdev.PathOf("vring0Address"), "vring 0");
            if (v.Vring1Address is { } a1 && a1 != ResourceTable.AddrAny)
                vdev.Vring1 = RequireMapped(a1, bytes, vdev.PathOf("vring1Address"), "vring 1");
        }
    }

    private ulong RequireMapped(ulong address, ulong length, string path, string what)
    {
        if (!Memory.TryTranslate(address, length, out _, out _))
            throw new PlatformDescriptionException(path, PlatformDescriptionValidator.Hex(address), $"{what} [0x{address:X}, +0x{length:X}) is not wholly inside any one mapped region");
        return address;
    }

    // ---- resource table ----------------------------------------------------------------------

    /// <summary>
    /// Remote: writes the OpenAMP-style resource table (one rpmsg vdev entry per described vdev, dfeatures = <paramref name="deviceFeatures"/>,
    /// else each vdev's <see cref="VdevLayoutDescription.Features"/> (default NS only); vdev i has notifyid 3i and its vrings
    /// 3i+1 and 3i+2 (vdev 0: 0, 1, 2 as OpenAMP), vrings from the description, ADDR_ANY allowed) at its location,
    /// publishing the version word last so a reader never sees a half-written table as valid. Returns the parsed table.
    /// </summary>
    public ResourceTable WriteResourceTable(uint? deviceFeatures = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Role != PlatformRole.Remote)
            throw new InvalidOperationException("Only the remote writes the resource table; the host reads it.");
        if (_tableLocation is null)
            throw new InvalidOperationException("The platform description has no resource table (resourceTable is \"none\").");
        var builder = new ResourceTableBuilder();
        foreach (var vdev in _vdevs)
        {
            var v = vdev.Description.Vdev;
            uint num = (uint)vdev.VringNum, align = (uint)vdev.VringAlign, id = 3 * (uint)vdev.Index;
            builder.AddVdev(RpmsgFeatures.VirtioDeviceId, notifyId: id, deviceFeatures: deviceFeatures ?? v.EffectiveFeatures, guestFeatures: 0, status: 0,
            [
                new VringSpec((uint)v.Vring0Address!.Value, align, num, id + 1, 0),
                new VringSpec((uint)v.Vring1Address!.Value, align, num, id + 2, 0),
            ]);
        }
        byte[] bytes = builder.Build();
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
        var entries = table.GetRpmsgVdevs();
        for (int i = 0; i < _vdevs.Length; i++)
            _vdevs[i].Entry = entries[i];
        return table;
    }

    /// <summary>
    /// Reads the resource table once into a private copy, validates it, and resolves the layout from
    /// its rpmsg vdev. A host chooses an address for each ADDR_ANY vring (the description's, else the
    /// first free aligned range of the vring region) and for each ADDR_ANY carveout, and writes them back;
    /// it also numbers every vring of every vdev from 0 in table order and writes those notify ids in, as
    /// Linux's remoteproc does (the vdev's own notifyid is left alone, as Linux leaves it). A remote takes what the host wrote.
    /// </summary>
    /// <exception cref="ResourceTableException">The table is malformed, or a vring lies outside memory or overlaps.</exception>
    /// <exception cref="PlatformDescriptionException">The table contradicts the description.</exception>
    public ResourceTable LoadResourceTable() => LoadResourceTableClearOf([]);

    /// <summary>
    /// As <see cref="LoadResourceTable"/>, a host's chosen addresses also clear of <paramref name="firmware"/> (the loaded
    /// image's segments: RemoteProcessor's firmware boot); a contradiction names the description's file as well.
    /// </summary>
    internal ResourceTable LoadResourceTableClearOf(IReadOnlyList<(ulong Start, ulong Length)> firmware)
    {
        try
        {
            return LoadResourceTableCore(firmware);
        }
        catch (PlatformDescriptionException e) when (Unnamed(Description, e))
        {
            throw e.WithSource(Description.SourceFile!);
        }
    }

    private ResourceTable LoadResourceTableCore(IReadOnlyList<(ulong Start, ulong Length)> firmware)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_tableLocation is null)
            throw new InvalidOperationException("The platform description has no resource table (resourceTable is \"none\").");
        ResourceTable read, table;
        using (var lease = ResourceTableRegion!.Acquire())
            read = ResourceTable.Read(lease, ResourceTableOffset, ResourceTableSize);
        PresentedTable = read;
        // A host numbers the vrings as Linux's remoteproc does (whatever ids the firmware put there); a remote takes them.
        bool renumbered = false;
        table = Role == PlatformRole.Host ? read.WithHostNotifyIds(out renumbered) : read;
        var entries = table.GetRpmsgVdevs();
        if (entries.Count < _vdevs.Length)
            throw new PlatformDescriptionException("additionalVdevs", $"[{_vdevs.Length - 1} entries]",
                $"{_vdevs.Length} vdevs are described but the resource table has {entries.Count} rpmsg vdev entr{(entries.Count == 1 ? "y" : "ies")}");
        // Table entries past the described vdevs are left alone (not driven), as before several vdevs were supported.
        var resolver = new PlatformVdevResolver(this, table, firmware);
        resolver.Resolve(entries);
        var placed = resolver.PlaceCarveouts();
        if (renumbered)
            WriteNotifyIds(read, table);
        if (placed.Count > 0)
        {
            // The parsed copy shows what the firmware will find: the addresses just allocated, not ADDR_ANY.
            table = table.WithCarveoutAddresses(placed);
            entries = table.GetRpmsgVdevs();
            for (int i = 0; i < _vdevs.Length; i++)
                _vdevs[i].Entry = entries[i];
        }
        for (int i = 0; i < _vdevs.Length; i++)
            _vdevs[i].NotifyIds.Set(entries[i].Vrings[0].NotifyId, entries[i].Vrings[1].NotifyId);
        ResourceTable = table;
        return table;
    }

    /// <summary>The table as the last <see cref="LoadResourceTableClearOf"/> read it, before anything of the host's was written into it.</summary>
    internal ResourceTable? PresentedTable { get; private set; }

    /// <summary>
    /// Writes back every vdev and carveout entry of <paramref name="presented"/> (a table as read before the host wrote
    /// into it), every vdev's status byte reset to 0: what the host chose (vring addresses and notify ids, carveout
    /// addresses, gfeatures, status) is taken back, as Linux's detach does with the clean copy it kept at attach.
    /// </summary>
    internal void RestoreResourceTable(ResourceTable presented)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var bytes = presented.ToArray();
        using var lease = ResourceTableRegion!.Acquire();
        foreach (var entry in presented.Entries.Where(e => e is VdevEntry or CarveoutEntry))
        {
            if (entry is VdevEntry vdev)
                bytes[vdev.StatusByteOffset] = 0;
            lease.WriteBytes(ResourceTableOffset + entry.Offset, bytes.AsSpan(entry.Offset, entry.Size));
        }
    }

    /// <summary>Writes every vring's notify id of <paramref name="numbered"/> into the table in memory, which holds <paramref name="read"/>'s.</summary>
    private void WriteNotifyIds(ResourceTable read, ResourceTable numbered)
    {
        var writer = new ResourceTableWriter(read);
        using var lease = ResourceTableRegion!.Acquire();
        foreach (var (before, after) in read.Vdevs.Zip(numbered.Vdevs))
        {
            for (int v = 0; v < before.Vrings.Count; v++)
                writer.SetVringNotifyId(lease, ResourceTableOffset, before, v, after.Vrings[v].NotifyId);
        }
    }

    // ---- doorbell ----------------------------------------------------------------------------

    /// <summary>
    /// Creates this side's doorbell as described: eventfd (the host creates the pair and sends the
    /// peer's end; the remote receives it), unixSocket (server accepts, client connects; default
    /// server for the remote, client for the host), uio (interrupt in, mailbox out) or polling
    /// (<see cref="PlatformDoorbellOptions.HasWork"/>). The caller owns and disposes the result.
    /// </summary>
    public IDoorbell CreateDoorbell(PlatformDoorbellOptions? options = null) => CreateDoorbell(0, options);

    /// <summary>As <see cref="CreateDoorbell(PlatformDoorbellOptions?)"/> for vdev <paramref name="vdev"/>'s own doorbell.</summary>
    public IDoorbell CreateDoorbell(int vdev, PlatformDoorbellOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(vdev);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vdev, _vdevs.Length);
        try
        {
            return PlatformDoorbells.Create(this, _vdevs[vdev].Description.Doorbell, options ?? new PlatformDoorbellOptions(), PlatformDescription.VdevPathPrefix(vdev), vdev);
        }
        catch (PlatformDescriptionException e) when (Unnamed(Description, e))
        {
            throw e.WithSource(Description.SourceFile!);
        }
    }
}
