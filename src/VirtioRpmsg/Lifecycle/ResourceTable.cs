using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A parsed, validated remoteproc resource table (version 1). Parsing works on a private copy taken
/// once: the table lives in memory the remote can write, so nothing is ever re-read from the source
/// after it was checked. Every offset and length is checked with overflow-proof arithmetic; any
/// violation is a <see cref="ResourceTableException"/> naming the field, entry and value.
/// </summary>
/// <remarks>
/// Names (32 bytes) must contain a NUL terminator; a name filling all 32 bytes is rejected rather
/// than silently truncated, because the kernel ABI treats it as a C string and an unterminated one
/// means the table is not what its writer meant. Bytes after the NUL are ignored.
/// Entries may not overlap the header, the offset array or each other: the host writes back into
/// vdev entries, and a write into one entry must not change another.
/// Reserved fields (the header's reserved[2], carveout/devmem/trace reserved, vdev reserved[2]) must be
/// zero, as Linux and OpenAMP require.
/// </remarks>
public sealed class ResourceTable
{
    /// <summary>The only supported table version.</summary>
    public const uint SupportedVersion = 1;

    /// <summary>"Any address": the host chooses and writes the address back.</summary>
    public const uint AddrAny = 0xFFFFFFFF;

    /// <summary>Bytes of the fixed header (ver, num, reserved[2]); the offset array follows.</summary>
    public const int HeaderSize = 16;

    /// <summary>Length of a name field in carveout, devmem and trace entries.</summary>
    public const int NameLength = 32;

    /// <summary>First and last vendor-specific entry type (Linux's RSC_VENDOR_START and RSC_VENDOR_END, both included).</summary>
    public const uint VendorTypeFirst = 128, VendorTypeLast = 512;

    /// <summary>Largest vring size the split virtqueue allows.</summary>
    public const uint MaxVringNum = 32768;

    private readonly byte[] _copy;

    private ResourceTable(byte[] copy, uint version, IReadOnlyList<ResourceEntry> entries)
    {
        _copy = copy;
        Version = version;
        Entries = entries;
    }

    /// <summary>Table version (always <see cref="SupportedVersion"/> once parsed).</summary>
    public uint Version { get; }

    /// <summary>Number of bytes the table was parsed from (the bound every offset was checked against).</summary>
    public int Length => _copy.Length;

    /// <summary>All entries, in offset-array order (vendor entries included).</summary>
    public IReadOnlyList<ResourceEntry> Entries { get; }

    /// <summary>The carveout entries, in table order.</summary>
    public IEnumerable<CarveoutEntry> Carveouts => Entries.OfType<CarveoutEntry>();
    /// <summary>The devmem entries, in table order.</summary>
    public IEnumerable<DevmemEntry> Devmems => Entries.OfType<DevmemEntry>();
    /// <summary>The trace buffer entries, in table order.</summary>
    public IEnumerable<TraceEntry> Traces => Entries.OfType<TraceEntry>();
    /// <summary>The virtio device entries, in table order.</summary>
    public IEnumerable<VdevEntry> Vdevs => Entries.OfType<VdevEntry>();
    /// <summary>Entries of vendor-specific types, kept as raw bytes.</summary>
    public IEnumerable<VendorEntry> VendorEntries => Entries.OfType<VendorEntry>();
    /// <summary>Entries of types the ABI does not define, skipped as Linux skips them.</summary>
    public IEnumerable<UnknownEntry> UnknownEntries => Entries.OfType<UnknownEntry>();

    /// <summary>A copy of the bytes the table was parsed from.</summary>
    public byte[] ToArray() => (byte[])_copy.Clone();

    /// <summary>Copies <paramref name="table"/> once and parses the copy.</summary>
    public static ResourceTable Parse(ReadOnlySpan<byte> table) => ParseCopy(table.ToArray());

    /// <summary>Copies <paramref name="length"/> bytes at <paramref name="offset"/> of a mapping once and parses the copy.</summary>
    /// <remarks>The copy is made with <see cref="MappingLease.ReadBytes"/>: aligned accesses on Device memory.</remarks>
    public static ResourceTable Read(in MappingLease lease, long offset, int length)
    {
        if (length < 0)
            throw new AddressRangeException(nameof(length), $"Region '{lease.Region.Name}'", unchecked((ulong)offset), unchecked((ulong)length), "has a negative length");
        var copy = new byte[length];
        lease.ReadBytes(offset, copy);
        return ParseCopy(copy);
    }

    private static ResourceTable ParseCopy(byte[] t)
    {
        ulong size = (ulong)t.Length;
        if (size < HeaderSize)
            throw new ResourceTableException("length", -1, size, $"shorter than the {HeaderSize}-byte header");
        uint version = U32(t, 0);
        if (version != SupportedVersion)
            throw new ResourceTableException("ver", -1, version, $"only version {SupportedVersion} is supported");
        uint num = U32(t, 4);
        RequireZero(U32(t, 8), "reserved[0]", -1);
        RequireZero(U32(t, 12), "reserved[1]", -1);
        ulong headerEnd = HeaderSize + 4UL * num;
        if (headerEnd > size)
            throw new ResourceTableException("num", -1, num, $"an offset array of {num} entries does not fit in a {size}-byte table");

        var entries = new ResourceEntry[num];
        // (start, end, index) of every entry, for the overlap check.
        var spans = new (ulong Start, ulong End, int Index)[num];
        for (int i = 0; i < (int)num; i++)
        {
            uint offset = U32(t, HeaderSize + 4 * i);
            string field = $"offset[{i}]";
            if (offset < headerEnd)
                throw new ResourceTableException(field, i, offset, $"points into the header/offset array (which ends at 0x{headerEnd:X})");
            if ((offset & 3) != 0)
                throw new ResourceTableException(field, i, offset, "is not 4-byte aligned");
            if ((ulong)offset + 4 > size)
                throw new ResourceTableException(field, i, offset, $"the entry's type word is past the end of the {size}-byte table");
            entries[i] = ParseEntry(t, i, (int)offset);
            spans[i] = (offset, (ulong)offset + (ulong)entries[i].Size, i);
        }
        CheckNoOverlap(spans);
        return new ResourceTable(t, version, entries);
    }

    private static ResourceEntry ParseEntry(byte[] t, int i, int o)
    {
        uint type = U32(t, o);
        switch (type)
        {
            case (uint)ResourceType.Carveout:
            case (uint)ResourceType.Devmem:
            {
                string kind = type == (uint)ResourceType.Carveout ? "carveout" : "devmem";
                RequireFits(t, i, o, MemoryResourceEntry.EntrySize, kind);
                uint da = U32(t, o + 4), pa = U32(t, o + 8), len = U32(t, o + 12), flags = U32(t, o + 16);
                RequireZero(U32(t, o + 20), kind + ".reserved", i);
                string name = Name(t, i, o + 24, kind);
                return type == (uint)ResourceType.Carveout
                    ? new CarveoutEntry(i, o, da, pa, len, flags, name)
                    : new DevmemEntry(i, o, da, pa, len, flags, name);
            }
            case (uint)ResourceType.Trace:
                RequireFits(t, i, o, TraceEntry.EntrySize, "trace");
                RequireZero(U32(t, o + 12), "trace.reserved", i);
                return new TraceEntry(i, o, U32(t, o + 4), U32(t, o + 8), Name(t, i, o + 16, "trace"));
            case (uint)ResourceType.Vdev:
                return ParseVdev(t, i, o);
            case >= VendorTypeFirst and <= VendorTypeLast:
                return new VendorEntry(i, o, type);
            default:
                // Linux's rproc_handle_resources skips a type it does not know with a warning; refusing the table
                // would refuse firmware the kernel boots (older OpenAMP tables carry types 4 and 5).
                return new UnknownEntry(i, o, type);
        }
    }

    private static VdevEntry ParseVdev(byte[] t, int i, int o)
    {
        RequireFits(t, i, o, VdevEntry.HeaderSize, "vdev");
        RequireZero(t[o + VdevEntry.NumVringsOffset + 1], "vdev.reserved[0]", i);
        RequireZero(t[o + VdevEntry.NumVringsOffset + 2], "vdev.reserved[1]", i);
        uint configLength = U32(t, o + VdevEntry.ConfigLengthOffset);
        byte vringCount = t[o + VdevEntry.NumVringsOffset];
        ulong vringsEnd = (ulong)o + VdevEntry.HeaderSize + (ulong)vringCount * VdevVring.EntrySize;
        if (vringsEnd > (ulong)t.Length)
            throw new ResourceTableException("vdev.num_of_vrings", i, vringCount, $"{vringCount} vring entries run past the end of the {t.Length}-byte table");
        if (vringsEnd + configLength > (ulong)t.Length)
            throw new ResourceTableException("vdev.config_len", i, configLength, $"config space at 0x{vringsEnd:X} runs past the end of the {t.Length}-byte table");
        var vrings = new VdevVring[vringCount];
        for (int v = 0; v < vringCount; v++)
        {
            int vo = o + VdevEntry.HeaderSize + v * VdevVring.EntrySize;
            vrings[v] = new VdevVring(v, vo, U32(t, vo), U32(t, vo + 4), U32(t, vo + 8), U32(t, vo + 12), U32(t, vo + 16));
        }
        return new VdevEntry(i, o,
            Id: U32(t, o + VdevEntry.IdOffset),
            NotifyId: U32(t, o + VdevEntry.NotifyIdOffset),
            DeviceFeatures: U32(t, o + VdevEntry.DeviceFeaturesOffset),
            GuestFeatures: U32(t, o + VdevEntry.GuestFeaturesOffset),
            ConfigLength: configLength,
            Status: t[o + VdevEntry.StatusOffset],
            Vrings: vrings);
    }

    private static void RequireFits(byte[] t, int i, int o, int entrySize, string kind)
    {
        if ((ulong)o + (ulong)entrySize > (ulong)t.Length)
            throw new ResourceTableException($"offset[{i}]", i, (ulong)o, $"the {entrySize}-byte {kind} entry is truncated by the end of the {t.Length}-byte table");
    }

    // Reserved fields must be zero: Linux (find_table, rproc_handle_*) and OpenAMP (handle_rsc_table) refuse the table otherwise.
    private static void RequireZero(uint value, string field, int i)
    {
        if (value != 0)
            throw new ResourceTableException(field, i, value, "is reserved and must be zero");
    }

    private static string Name(byte[] t, int i, int o, string kind)
    {
        var bytes = t.AsSpan(o, NameLength);
        int nul = bytes.IndexOf((byte)0);
        if (nul < 0)
            throw new ResourceTableException($"{kind}.name", i, NameLength, "has no NUL terminator within its 32 bytes");
        return Encoding.UTF8.GetString(bytes[..nul]);
    }

    private static void CheckNoOverlap((ulong Start, ulong End, int Index)[] spans)
    {
        var sorted = ((ulong Start, ulong End, int Index)[])spans.Clone();
        // Ties broken by index so the later entry is the one reported.
        Array.Sort(sorted, (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Index.CompareTo(b.Index));
        for (int k = 1; k < sorted.Length; k++)
        {
            if (sorted[k].Start < sorted[k - 1].End)
                throw new ResourceTableException($"offset[{sorted[k].Index}]", sorted[k].Index, sorted[k].Start,
                    $"overlaps entry {sorted[k - 1].Index} at [0x{sorted[k - 1].Start:X}, 0x{sorted[k - 1].End:X})");
        }
    }

    private static uint U32(byte[] t, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(offset, 4));

    // ---- rpmsg vdev --------------------------------------------------------------------------

    /// <summary>The first vdev entry with virtio device id <paramref name="id"/>, or null.</summary>
    public VdevEntry? FindVdev(uint id) => Vdevs.FirstOrDefault(v => v.Id == id);

    /// <summary>
    /// The rpmsg vdev (id 7), checked for what the rpmsg transport needs: exactly two vrings, each
    /// with a power-of-two num (at most 32768) and a power-of-two align; and, as <see cref="GetRpmsgVdevs"/>
    /// checks, no two vrings of the table's vdevs with the same notify id.
    /// </summary>
    public VdevEntry GetRpmsgVdev()
    {
        var vdev = FindVdev(RpmsgFeatures.VirtioDeviceId)
            ?? throw new ResourceTableException("vdev.id", -1, RpmsgFeatures.VirtioDeviceId, "no vdev entry with the rpmsg device id");
        ValidateRpmsgVdev(vdev);
        CheckVringNotifyIdsDistinct();
        return vdev;
    }

    /// <summary>
    /// Every rpmsg vdev (id 7) in table order, each checked as by <see cref="GetRpmsgVdev"/>, with every
    /// vring notify id distinct: the id is how a kick names its vring, so two equal ids would let one
    /// vring's kick be taken for another's. A vdev's own notifyid names no vring and is not compared
    /// (Linux never reads it; Zephyr's and STM32Cube's OpenAMP tables set it to 0 beside vring 0's 0).
    /// </summary>
    public IReadOnlyList<VdevEntry> GetRpmsgVdevs()
    {
        var vdevs = Vdevs.Where(v => v.Id == RpmsgFeatures.VirtioDeviceId).ToArray();
        if (vdevs.Length == 0)
            throw new ResourceTableException("vdev.id", -1, RpmsgFeatures.VirtioDeviceId, "no vdev entry with the rpmsg device id");
        foreach (var vdev in vdevs)
            ValidateRpmsgVdev(vdev);
        CheckVringNotifyIdsDistinct();
        return vdevs;
    }

    // The vrings of every vdev (rpmsg or not) share one notify id space, as Linux's per-processor id allocator does.
    private void CheckVringNotifyIdsDistinct()
    {
        var seen = new Dictionary<uint, string>();
        foreach (var vdev in Vdevs)
        {
            foreach (var ring in vdev.Vrings)
                Claim(seen, vdev, $"vring[{ring.Index}].notifyid", ring.NotifyId, $"vring {ring.Index} of entry {vdev.Index}");
        }
    }

    /// <summary>
    /// The notify ids Linux's remoteproc gives this table's vrings (rproc_alloc_vring: one per-processor id
    /// allocator, from 0 upward, every vring of every vdev in table order), as a new table parsed from a copy with
    /// those ids in each vring's notifyid field; <paramref name="changed"/> is false when the table already had them.
    /// A vdev's own notifyid is left as it is: Linux neither assigns nor reads it.
    /// </summary>
    internal ResourceTable WithHostNotifyIds(out bool changed)
    {
        var copy = (byte[])_copy.Clone();
        uint next = 0;
        changed = false;
        foreach (var vdev in Vdevs)
        {
            foreach (var ring in vdev.Vrings)
            {
                uint id = next++;
                changed |= ring.NotifyId != id;
                BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(ring.Offset + VdevVring.NotifyIdOffset, 4), id);
            }
        }
        return changed ? ParseCopy(copy) : this;
    }

    /// <summary>A copy with each of <paramref name="carveouts"/> (entries of this table, addresses changed) at its da and pa.</summary>
    internal ResourceTable WithCarveoutAddresses(IEnumerable<CarveoutEntry> carveouts)
    {
        var copy = (byte[])_copy.Clone();
        foreach (var c in carveouts)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(c.Offset + 4, 4), c.DeviceAddress);
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(c.Offset + 8, 4), c.PhysicalAddress);
        }
        return ParseCopy(copy);
    }

    private static void Claim(Dictionary<uint, string> seen, VdevEntry vdev, string field, uint id, string what)
    {
        if (!seen.TryAdd(id, what))
            throw new ResourceTableException(field, vdev.Index, id, $"is already the notify id of the {seen[id]}; notify ids must be distinct");
    }

    /// <summary>Checks the vring shape an rpmsg vdev must have; throws <see cref="ResourceTableException"/>.</summary>
    public static void ValidateRpmsgVdev(VdevEntry vdev)
    {
        ArgumentNullException.ThrowIfNull(vdev);
        if (vdev.Vrings.Count != 2)
            throw new ResourceTableException("vdev.num_of_vrings", vdev.Index, (ulong)vdev.Vrings.Count, "an rpmsg vdev needs exactly two vrings (rx, tx)");
        foreach (var ring in vdev.Vrings)
        {
            if (ring.Num == 0 || ring.Num > MaxVringNum || !BitOperations.IsPow2(ring.Num))
                throw new ResourceTableException($"vring[{ring.Index}].num", vdev.Index, ring.Num, $"must be a power of two between 1 and {MaxVringNum}");
            if (!BitOperations.IsPow2(ring.Align))
                throw new ResourceTableException($"vring[{ring.Index}].align", vdev.Index, ring.Align, "must be a power of two");
        }
    }

    /// <summary>Throws unless <paramref name="entry"/> is the very object this table parsed at its index.</summary>
    internal void RequireOwnEntry(ResourceEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if ((uint)entry.Index >= (uint)Entries.Count || !ReferenceEquals(Entries[entry.Index], entry))
            throw new ArgumentException($"Resource entry {entry.Index} at offset 0x{entry.Offset:X} does not belong to this table.", nameof(entry));
    }
}
