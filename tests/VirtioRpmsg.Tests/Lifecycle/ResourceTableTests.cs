using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

public class ResourceTableTests
{
    // One carveout, one trace, one vdev with config space: entries at 28, 84, 132.
    private static byte[] MixedTable() => new ResourceTableBuilder()
        .AddCarveout(0x1000, 0x2000, 0x3000, 0x4, "text")
        .AddTrace(0x20000, 0x800, "trace0")
        .AddVdev(RpmsgFeatures.VirtioDeviceId, 5, 0x1, 0, 0,
            [new VringSpec(ResourceTable.AddrAny, 16, 16, 6, ResourceTable.AddrAny), new VringSpec(0x9000, 16, 16, 7, 0)],
            [0xAA, 0xBB, 0xCC, 0xDD])
        .Build();

    private static void Put(byte[] t, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(offset), value);

    private static ResourceTableException Reject(byte[] table, string field, int entry)
    {
        var ex = Assert.Throws<ResourceTableException>(() => ResourceTable.Parse(table));
        Assert.Equal(field, ex.Field);
        Assert.Equal(entry, ex.EntryIndex);
        Assert.Contains(field, ex.Message);
        return ex;
    }

    [Fact]
    public void Parse_OpenAmpTable_ReadsEveryField()
    {
        var table = ResourceTable.Parse(ResourceTableBuilder.BuildOpenAmpLinux());

        Assert.Equal(88, table.Length);
        Assert.Equal(1u, table.Version);
        var vdev = Assert.IsType<VdevEntry>(Assert.Single(table.Entries));
        Assert.Equal(0, vdev.Index);
        Assert.Equal(20, vdev.Offset);
        Assert.Equal(7u, vdev.Id);
        Assert.Equal(0u, vdev.NotifyId);
        Assert.Equal(1u, vdev.DeviceFeatures);
        Assert.Equal(0u, vdev.GuestFeatures);
        Assert.Equal(0u, vdev.ConfigLength);
        Assert.Equal(0, vdev.Status);
        Assert.Equal(44, vdev.StatusByteOffset);
        Assert.Equal(88, vdev.ConfigOffset);
        Assert.Equal(68, vdev.Size);
        Assert.Equal(2, vdev.Vrings.Count);
        Assert.Equal(new VdevVring(0, 48, 0x4000, 0x1000, 256, 1, 0), vdev.Vrings[0]);
        Assert.Equal(new VdevVring(1, 68, 0x8000, 0x1000, 256, 2, 0), vdev.Vrings[1]);
        Assert.Same(vdev, table.GetRpmsgVdev());
    }

    [Fact]
    public void Parse_MixedTable_ReadsAllEntryKinds()
    {
        var table = ResourceTable.Parse(MixedTable());

        var carveout = Assert.IsType<CarveoutEntry>(table.Entries[0]);
        Assert.Equal(new CarveoutEntry(0, 28, 0x1000, 0x2000, 0x3000, 0x4, "text"), carveout);
        var trace = Assert.IsType<TraceEntry>(table.Entries[1]);
        Assert.Equal(new TraceEntry(1, 84, 0x20000, 0x800, "trace0"), trace);
        var vdev = Assert.IsType<VdevEntry>(table.Entries[2]);
        Assert.Equal(132, vdev.Offset);
        Assert.Equal(4u, vdev.ConfigLength);
        Assert.Equal(132 + 28 + 40, vdev.ConfigOffset);
        Assert.True(vdev.Vrings[0].NeedsAddress);
        Assert.False(vdev.Vrings[1].NeedsAddress);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC, 0xDD }, table.ToArray().AsSpan(vdev.ConfigOffset, 4).ToArray());
    }

    [Fact]
    public void Parse_DevmemEntry_ReadsFields()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder().AddDevmem(0x4000_0000, 0x5000_0000, 0x1000, 0, "uart").Build());
        Assert.Equal(new DevmemEntry(0, 20, 0x4000_0000, 0x5000_0000, 0x1000, 0, "uart"), Assert.Single(table.Devmems));
    }

    [Fact]
    public void Parse_VendorEntry_SkippedButRecorded()
    {
        var bytes = new ResourceTableBuilder().AddVendor(200, [1, 2, 3, 4, 5, 6, 7, 8]).AddTrace(0x100, 0x10, "t").Build();
        var table = ResourceTable.Parse(bytes);
        Assert.Equal(new VendorEntry(0, 24, 200), Assert.Single(table.VendorEntries));
        Assert.Equal(0x100u, Assert.Single(table.Traces).DeviceAddress);
    }

    [Fact]
    public void Parse_TakesPrivateCopy_LaterSourceChangesInvisible()
    {
        var bytes = ResourceTableBuilder.BuildOpenAmpLinux();
        var table = ResourceTable.Parse(bytes);
        Put(bytes, 48, 0xDEAD);
        Assert.Equal(0x4000u, table.GetRpmsgVdev().Vrings[0].DeviceAddress);
        Assert.Equal(0x4000u, BinaryPrimitives.ReadUInt32LittleEndian(table.ToArray().AsSpan(48)));
    }

    [Fact]
    public void Parse_ShorterThanHeader_ThrowsNamingLength() => Reject(new byte[12], "length", -1);

    [Fact]
    public void Parse_VersionNotOne_ThrowsNamingVer()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 0, 2);
        Assert.Equal(2u, Reject(t, "ver", -1).Value);
    }

    [Fact]
    public void Parse_NumTooLarge_ThrowsNamingNum()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 4, 0xFFFFFFFF);
        Assert.Equal(0xFFFFFFFFu, Reject(t, "num", -1).Value);
    }

    [Fact]
    public void Parse_OffsetPastEnd_ThrowsNamingOffset()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 16, 88);
        Assert.Equal(88u, Reject(t, "offset[0]", 0).Value);
    }

    [Fact]
    public void Parse_OffsetHuge_ThrowsNamingOffset()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 16, 0xFFFFFFFC);
        Reject(t, "offset[0]", 0);
    }

    [Fact]
    public void Parse_OffsetUnaligned_ThrowsNamingOffset()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 16, 22);
        Assert.Contains("aligned", Reject(t, "offset[0]", 0).Message);
    }

    [Fact]
    public void Parse_OffsetInsideHeader_ThrowsNamingOffset()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 16, 16);
        Assert.Contains("header", Reject(t, "offset[0]", 0).Message);
    }

    [Fact]
    public void Parse_TruncatedCarveout_ThrowsNamingOffset()
    {
        var t = new ResourceTableBuilder().AddCarveout(0, 0, 0x100, 0, "c").Build();
        Reject(t.AsSpan(0, t.Length - 4).ToArray(), "offset[0]", 0);
    }

    [Fact]
    public void Parse_TruncatedTrace_ThrowsNamingOffset()
    {
        var t = new ResourceTableBuilder().AddTrace(0, 0x100, "tr").Build();
        Reject(t.AsSpan(0, t.Length - 1).ToArray(), "offset[0]", 0);
    }

    [Fact]
    public void Parse_TruncatedVdevHeader_ThrowsNamingOffset()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Reject(t.AsSpan(0, 40).ToArray(), "offset[0]", 0);
    }

    [Fact]
    public void Parse_VdevVringsPastEnd_ThrowsNamingNumOfVrings()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        t[45] = 3;
        Assert.Equal(3u, Reject(t, "vdev.num_of_vrings", 0).Value);
    }

    [Fact]
    public void Parse_VdevConfigPastEnd_ThrowsNamingConfigLen()
    {
        var t = ResourceTableBuilder.BuildOpenAmpLinux();
        Put(t, 40, 1);
        Assert.Equal(1u, Reject(t, "vdev.config_len", 0).Value);
        Put(t, 40, 0xFFFFFFFF);
        Reject(t, "vdev.config_len", 0);
    }

    [Fact]
    public void Parse_NameWithoutNul_ThrowsNamingName()
    {
        var t = new ResourceTableBuilder().AddTrace(0, 0x10, "x").Build();
        t.AsSpan(20 + 16, 32).Fill((byte)'A');
        Reject(t, "trace.name", 0);
        var c = new ResourceTableBuilder().AddCarveout(0, 0, 0x10, 0, "y").Build();
        c.AsSpan(20 + 24, 32).Fill((byte)'B');
        Reject(c, "carveout.name", 0);
    }

    [Theory]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(127u)]
    [InlineData(513u)]
    [InlineData(0xFFFFFFFFu)]
    public void Parse_TypeTheAbiDoesNotDefine_SkippedAndRecorded_AsLinuxSkipsIt(uint type)
    {
        // An old OpenAMP table (RSC_RPROC_MEM = 4, RSC_FW_CHKSUM = 5) before the vdev: the kernel warns and boots it.
        var t = new ResourceTableBuilder().AddVendor(200, new byte[16]).AddTrace(0x100, 0x10, "t").Build();
        Put(t, 24, type);

        var table = ResourceTable.Parse(t);

        Assert.Equal(new UnknownEntry(0, 24, type), Assert.Single(table.UnknownEntries));
        Assert.Empty(table.VendorEntries);
        Assert.Equal(0x100u, Assert.Single(table.Traces).DeviceAddress);
    }

    [Fact]
    public void Parse_Type512_IsVendor_AsLinuxsVendorRangeIncludesIt()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder().AddVendor(512).Build());
        Assert.Equal(512u, Assert.Single(table.VendorEntries).Type);
    }

    [Fact]
    public void Parse_OverlappingEntries_ThrowsNamingOffset()
    {
        var t = new ResourceTableBuilder().AddTrace(0, 0x10, "a").AddTrace(0, 0x10, "b").Build();
        // Both offsets name the same entry: a write-back into one would change the other.
        Put(t, 20, 24);
        Reject(t, "offset[1]", 1);
    }

    [Fact]
    public void GetRpmsgVdev_NoRpmsgVdev_Throws()
    {
        var t = ResourceTable.Parse(new ResourceTableBuilder().AddVdev(5, 0, 0, 0, 0, [new VringSpec(0, 16, 16, 0, 0)]).Build());
        Assert.Null(t.FindVdev(RpmsgFeatures.VirtioDeviceId));
        Assert.NotNull(t.FindVdev(5));
        Assert.Equal("vdev.id", Assert.Throws<ResourceTableException>(() => t.GetRpmsgVdev()).Field);
    }

    [Fact]
    public void GetRpmsgVdev_OneVring_ThrowsNamingNumOfVrings()
    {
        var t = ResourceTable.Parse(new ResourceTableBuilder().AddVdev(7, 0, 0, 0, 0, [new VringSpec(0, 16, 16, 0, 0)]).Build());
        Assert.Equal("vdev.num_of_vrings", Assert.Throws<ResourceTableException>(() => t.GetRpmsgVdev()).Field);
    }

    [Theory]
    [InlineData(0u, 16u, "vring[1].num")]
    [InlineData(24u, 16u, "vring[1].num")]
    [InlineData(65536u, 16u, "vring[1].num")]
    [InlineData(16u, 0u, "vring[1].align")]
    [InlineData(16u, 0x1800u, "vring[1].align")]
    public void GetRpmsgVdev_BadVringShape_ThrowsNamingField(uint num, uint align, string field)
    {
        var t = ResourceTable.Parse(new ResourceTableBuilder()
            .AddVdev(7, 0, 0, 0, 0, [new VringSpec(0, 16, 16, 0, 0), new VringSpec(0, align, num, 0, 0)]).Build());
        var ex = Assert.Throws<ResourceTableException>(() => t.GetRpmsgVdev());
        Assert.Equal(field, ex.Field);
    }
}
