using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Reserved fields must be zero, as Linux (find_table, rproc_handle_carveout/devmem/trace/vdev) and OpenAMP
/// (handle_rsc_table, handle_carve_out_rsc) require: a table with non-zero reserved bytes is not the table
/// its writer meant (or is a newer layout), and both reference hosts refuse it.
/// </summary>
public class ResourceTableReservedTests
{
    // Carveout at 32, devmem at 88, trace at 144, vdev at 192 (header 16 + 4 offsets).
    private static byte[] Table() => new ResourceTableBuilder()
        .AddCarveout(0x1000, 0x2000, 0x3000, 0x4, "text")
        .AddDevmem(0x4000, 0x4000, 0x100, 0, "regs")
        .AddTrace(0x20000, 0x800, "trace0")
        .AddVdev(RpmsgFeatures.VirtioDeviceId, 5, 0x1, 0, 0,
            [new VringSpec(0x8000, 16, 16, 6, 0), new VringSpec(0x9000, 16, 16, 7, 0)])
        .Build();

    [Fact]
    public void Table_AsBuilt_Parses()
    {
        var table = ResourceTable.Parse(Table());

        Assert.Equal([32, 88, 144, 192], table.Entries.Select(e => e.Offset));
    }

    [Theory]
    [InlineData(8, "reserved[0]", -1)]
    [InlineData(12, "reserved[1]", -1)]
    [InlineData(32 + 20, "carveout.reserved", 0)]
    [InlineData(88 + 20, "devmem.reserved", 1)]
    [InlineData(144 + 12, "trace.reserved", 2)]
    [InlineData(192 + 26, "vdev.reserved[0]", 3)]
    [InlineData(192 + 27, "vdev.reserved[1]", 3)]
    public void Parse_NonZeroReserved_ThrowsNamingField(int at, string field, int entry)
    {
        byte[] t = Table();
        t[at] = 0x5A;

        var e = Assert.Throws<ResourceTableException>(() => ResourceTable.Parse(t));

        Assert.Equal(field, e.Field);
        Assert.Equal(entry, e.EntryIndex);
        Assert.Equal(0x5AUL, e.Value);
        Assert.Contains(field, e.Message);
    }
}
