using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

public class VringLayoutTests
{
    [Theory]
    [InlineData(256, 4096, 4096, 8192, 10246)]
    [InlineData(16, 16, 256, 304, 438)]
    [InlineData(4, 4096, 64, 4096, 4134)]
    public void Constructor_WireFormatVectors_MatchOffsets(int num, int align, long avail, long used, long total)
    {
        var layout = new VringLayout(num, align);
        Assert.Equal(0, layout.DescriptorTableOffset);
        Assert.Equal(avail, layout.AvailOffset);
        Assert.Equal(used, layout.UsedOffset);
        Assert.Equal(total, layout.TotalSize);
        Assert.Equal(total, VringLayout.Size(num, align));
        // used_event is the last avail-ring word, avail_event the last used-ring word.
        Assert.Equal(avail + 4 + 2 * num, layout.UsedEventOffset);
        Assert.Equal(used + 4 + 8 * num, layout.AvailEventOffset);
        Assert.Equal(total - 2, layout.AvailEventOffset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-4)]
    [InlineData(65536)]
    [InlineData(100)]
    public void Constructor_BadNum_ThrowsNamingValue(int num)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new VringLayout(num, 4096));
        Assert.Equal("num", ex.ParamName);
        Assert.Contains(num.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-4096)]
    [InlineData(4095)]
    public void Constructor_BadAlign_ThrowsNamingValue(int align)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new VringLayout(16, align));
        Assert.Equal("align", ex.ParamName);
        Assert.Contains(align.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
    }

    [Fact]
    public void Constructor_LargestNum_Accepted()
    {
        var layout = new VringLayout(32768, 4096);
        Assert.Equal(32768 * 16, layout.AvailOffset);
        Assert.True(layout.TotalSize > layout.AvailEventOffset);
    }

    [Fact]
    public void Vring_DoesNotFitInRegion_ThrowsAddressRange()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(8192, 0x1000);
        Assert.Throws<AddressRangeException>(() => new Vring(region.Bind(), 0, new VringLayout(256, 4096)));
        Assert.Throws<AddressRangeException>(() => new Vring(region.Bind(), 4096, new VringLayout(4, 4096)));
        Assert.Throws<AddressRangeException>(() => new Vring(region.Bind(), -16, new VringLayout(4, 16)));
    }

    [Fact]
    public void Vring_MisalignedOffset_Throws()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(3 * 4096, 0x1000);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(region.Bind(), 16, new VringLayout(4, 4096)));
        Assert.Equal("offset", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(region.Bind(), 8, new VringLayout(4, 16)));
    }

    [Fact]
    public void Vring_MisalignedDeviceAddress_Throws()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(3 * 4096, 0x1010);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Vring(region.Bind(), 0, new VringLayout(4, 4096)));
    }

    [Fact]
    public void Vring_AtOffset_ReportsDeviceAddress()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4 * 4096, 0x10000);
        var vring = new Vring(region.Bind(), 4096, new VringLayout(4, 4096));
        Assert.Equal(0x11000ul, vring.DeviceAddress);
        Assert.Equal(4, vring.Num);
    }

    [Fact]
    public void Driver_AfterRemap_ThrowsStaleMapping()
    {
        using var bed = new VringTestBed(4);
        var driver = bed.CreateDriver();
        bed.RingRegion.Unmap();
        bed.RingRegion.Remap();
        Assert.Throws<StaleMappingException>(() => driver.TryAdd(VringTestBed.SlotAddress(0), 16, true, 1));
        Assert.Throws<StaleMappingException>(() => driver.KickPrepare());
    }

    [Fact]
    public void Device_AfterUnmap_ThrowsRegionClosed()
    {
        using var bed = new VringTestBed(4);
        var device = bed.CreateDevice();
        bed.RingRegion.Unmap();
        Assert.ThrowsAny<RegionClosedException>(() => device.TryTakeAvailable(out _));
    }
}
