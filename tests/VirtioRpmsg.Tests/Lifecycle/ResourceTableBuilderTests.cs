using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

public class ResourceTableBuilderTests
{
    // The OpenAMP Linux-userspace demo table, written out by hand from the layout in the wire-format notes.
    private static readonly byte[] OpenAmpTable =
    [
        0x01, 0x00, 0x00, 0x00, // ver
        0x01, 0x00, 0x00, 0x00, // num
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved[2]
        0x14, 0x00, 0x00, 0x00, // offset[0] = 20
        0x03, 0x00, 0x00, 0x00, // type = VDEV
        0x07, 0x00, 0x00, 0x00, // id = rpmsg
        0x00, 0x00, 0x00, 0x00, // notifyid
        0x01, 0x00, 0x00, 0x00, // dfeatures = NS
        0x00, 0x00, 0x00, 0x00, // gfeatures
        0x00, 0x00, 0x00, 0x00, // config_len
        0x00, 0x02, 0x00, 0x00, // status, num_of_vrings = 2, reserved[2]
        0x00, 0x40, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // vring 0 @48
        0x00, 0x80, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // vring 1 @68
    ];

    [Fact]
    public void BuildOpenAmpLinux_MatchesHandWrittenBytes()
    {
        byte[] built = ResourceTableBuilder.BuildOpenAmpLinux();
        Assert.Equal(88, OpenAmpTable.Length);
        Assert.Equal(OpenAmpTable, built);
    }

    [Fact]
    public void AddVendor_TypeOutsideVendorRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResourceTableBuilder().AddVendor(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResourceTableBuilder().AddVendor(513));
    }

    [Fact]
    public void AddTrace_NameOf32Bytes_ThrowsBecauseNoRoomForNul()
    {
        Assert.Throws<ArgumentException>(() => new ResourceTableBuilder().AddTrace(0, 0, new string('n', 32)));
        var table = ResourceTable.Parse(new ResourceTableBuilder().AddTrace(0, 0, new string('n', 31)).Build());
        Assert.Equal(new string('n', 31), Assert.Single(table.Traces).Name);
    }

    // The name field ends at the first NUL: "fw\0trace" read back as "fw" (NameServiceMessage.ValidateName refuses it too).
    [Fact]
    public void AddEntry_NameWithEmbeddedNul_ThrowsNamingTheName()
    {
        var builder = new ResourceTableBuilder();

        var carveout = Assert.Throws<ArgumentException>(() => builder.AddCarveout(0x1000, 0x1000, 0x1000, 0, "fw\0trace"));
        Assert.Throws<ArgumentException>(() => builder.AddDevmem(0x1000, 0x1000, 0x1000, 0, "\0"));
        Assert.Throws<ArgumentException>(() => builder.AddTrace(0, 0, "log\0"));

        Assert.Equal("name", carveout.ParamName);
        Assert.Contains("fw\\0trace", carveout.Message);
        Assert.Empty(ResourceTable.Parse(builder.Build()).Entries);
    }

    [Fact]
    public void Build_Empty_IsValidHeaderOnly()
    {
        var table = ResourceTable.Parse(new ResourceTableBuilder().Build());
        Assert.Equal(16, table.Length);
        Assert.Empty(table.Entries);
    }
}
