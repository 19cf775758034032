using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Builds a resource table in memory (tests, the simulated remote, the OpenAMP layout). Entries are
/// laid out in the order added, right after the offset array, each 4-byte aligned.
/// </summary>
public sealed class ResourceTableBuilder
{
    private readonly List<byte[]> _entries = [];

    /// <summary>Adds a carveout entry.</summary>
    public ResourceTableBuilder AddCarveout(uint deviceAddress, uint physicalAddress, uint length, uint flags, string name)
        => Add(MemoryEntry(ResourceType.Carveout, deviceAddress, physicalAddress, length, flags, name));

    /// <summary>Adds a devmem entry.</summary>
    public ResourceTableBuilder AddDevmem(uint deviceAddress, uint physicalAddress, uint length, uint flags, string name)
        => Add(MemoryEntry(ResourceType.Devmem, deviceAddress, physicalAddress, length, flags, name));

    /// <summary>Adds a trace entry.</summary>
    public ResourceTableBuilder AddTrace(uint deviceAddress, uint length, string name)
    {
        var e = new byte[TraceEntry.EntrySize];
        Put(e, 0, (uint)ResourceType.Trace);
        Put(e, 4, deviceAddress);
        Put(e, 8, length);
        PutName(e, 16, name);
        return Add(e);
    }

    /// <summary>Adds a vdev entry with its vrings and config space (config may be empty).</summary>
    public ResourceTableBuilder AddVdev(uint id, uint notifyId, uint deviceFeatures, uint guestFeatures, byte status,
        IReadOnlyList<VringSpec> vrings, ReadOnlySpan<byte> config = default)
    {
        ArgumentNullException.ThrowIfNull(vrings);
        if (vrings.Count > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(vrings), vrings.Count, "A vdev has at most 255 vrings.");
        int size = VdevEntry.HeaderSize + vrings.Count * VdevVring.EntrySize + config.Length;
        var e = new byte[AlignUp4(size)];
        Put(e, 0, (uint)ResourceType.Vdev);
        Put(e, VdevEntry.IdOffset, id);
        Put(e, VdevEntry.NotifyIdOffset, notifyId);
        Put(e, VdevEntry.DeviceFeaturesOffset, deviceFeatures);
        Put(e, VdevEntry.GuestFeaturesOffset, guestFeatures);
        Put(e, VdevEntry.ConfigLengthOffset, (uint)config.Length);
        e[VdevEntry.StatusOffset] = status;
        e[VdevEntry.NumVringsOffset] = (byte)vrings.Count;
        for (int v = 0; v < vrings.Count; v++)
        {
            int o = VdevEntry.HeaderSize + v * VdevVring.EntrySize;
            Put(e, o, vrings[v].DeviceAddress);
            Put(e, o + 4, vrings[v].Align);
            Put(e, o + 8, vrings[v].Num);
            Put(e, o + 12, vrings[v].NotifyId);
            Put(e, o + 16, vrings[v].PhysicalAddress);
        }
        config.CopyTo(e.AsSpan(VdevEntry.HeaderSize + vrings.Count * VdevVring.EntrySize));
        return Add(e);
    }

    /// <summary>Adds a vendor entry: the type word (128..512) followed by <paramref name="payload"/>.</summary>
    public ResourceTableBuilder AddVendor(uint type, ReadOnlySpan<byte> payload = default)
    {
        if (type is < ResourceTable.VendorTypeFirst or > ResourceTable.VendorTypeLast)
            throw new ArgumentOutOfRangeException(nameof(type), type, "Vendor entry types are 128..512.");
        var e = new byte[AlignUp4(4 + payload.Length)];
        Put(e, 0, type);
        payload.CopyTo(e.AsSpan(4));
        return Add(e);
    }

    /// <summary>The table: header, offset array, then the entries in the order added.</summary>
    public byte[] Build()
    {
        int offset = ResourceTable.HeaderSize + 4 * _entries.Count;
        int total = offset + _entries.Sum(e => e.Length);
        var table = new byte[total];
        Put(table, 0, ResourceTable.SupportedVersion);
        Put(table, 4, (uint)_entries.Count);
        for (int i = 0; i < _entries.Count; i++)
        {
            Put(table, ResourceTable.HeaderSize + 4 * i, (uint)offset);
            _entries[i].CopyTo(table, offset);
            offset += _entries[i].Length;
        }
        return table;
    }

    /// <summary>
    /// The 88-byte table of OpenAMP's Linux-userspace demo machine: one rpmsg vdev (dfeatures = NS)
    /// at offset 20 with two vrings at da 0x4000 and 0x8000 (align 0x1000, num 256, notifyid 1 and 2).
    /// </summary>
    public static byte[] BuildOpenAmpLinux() => new ResourceTableBuilder()
        .AddVdev(RpmsgFeatures.VirtioDeviceId, notifyId: 0, deviceFeatures: RpmsgFeatures.NameService, guestFeatures: 0, status: 0,
        [
            new VringSpec(0x4000, 0x1000, 256, 1, 0),
            new VringSpec(0x8000, 0x1000, 256, 2, 0),
        ])
        .Build();

    private ResourceTableBuilder Add(byte[] entry)
    {
        _entries.Add(entry);
        return this;
    }

    private static byte[] MemoryEntry(ResourceType type, uint da, uint pa, uint length, uint flags, string name)
    {
        var e = new byte[MemoryResourceEntry.EntrySize];
        Put(e, 0, (uint)type);
        Put(e, 4, da);
        Put(e, 8, pa);
        Put(e, 12, length);
        Put(e, 16, flags);
        PutName(e, 24, name);
        return e;
    }

    private static void PutName(byte[] e, int offset, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        // The field ends at the first NUL: "fw\0trace" would read back as "fw" (NameServiceMessage.ValidateName refuses it too).
        if (name.Contains('\0'))
            throw new ArgumentException($"Name '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a NUL character, which would end it early in the table.", nameof(name));
        // At most 31 bytes, so the 32-byte field keeps its NUL terminator.
        if (Encoding.UTF8.GetByteCount(name) >= ResourceTable.NameLength)
            throw new ArgumentException($"Name '{name}' needs {Encoding.UTF8.GetByteCount(name)} bytes; at most {ResourceTable.NameLength - 1} fit.", nameof(name));
        Encoding.UTF8.GetBytes(name, e.AsSpan(offset, ResourceTable.NameLength));
    }

    private static void Put(byte[] b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset, 4), value);

    private static int AlignUp4(int n) => (n + 3) & ~3;
}
