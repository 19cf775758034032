using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

public class SharedMemoryRegionTests
{
    [Fact]
    public void Acquire_AfterUnmap_ThrowsRegionClosed()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, deviceAddress: 0x1000);
        using (var lease = region.Acquire())
        {
            lease.WriteUInt32(8, 0xDEADBEEF);
            Assert.Equal(0xDEADBEEFu, lease.ReadUInt32(8));
        }
        region.Unmap();
        var ex = Assert.Throws<RegionClosedException>(() => { using var l = region.Acquire(); });
        Assert.Equal(1, ex.Generation);
        Assert.False(region.IsMapped);
    }

    [Fact]
    public void BoundHandle_AfterRemap_ThrowsStaleMapping()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var handle = region.Bind();
        region.Unmap();
        region.Remap();
        var ex = Assert.Throws<StaleMappingException>(() => { using var l = handle.Acquire(); });
        Assert.Equal(0, ex.BoundGeneration);
        Assert.Equal(1, ex.Generation);
        using var fresh = region.Bind().Acquire();
        Assert.Equal(1, fresh.Generation);
    }

    [Fact]
    public void Lease_OutOfRangeAccess_ThrowsAddressRange()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        Assert.Throws<AddressRangeException>(() => { using var lease = region.Acquire(); lease.ReadUInt32(4094); });
        Assert.Throws<AddressRangeException>(() => { using var lease = region.Acquire(); lease.ReadUInt16(-1); });
        Assert.Equal(0, region.LiveLeases);
    }

    [Fact]
    public void Prefetches_AreBoundsChecked_AndChangeNothing()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        using (var lease = region.Acquire())
        {
            lease.WriteUInt32(4092, 0xFEEDF00D);
            lease.PrefetchForRead(4000, 96);  // up to the region's last byte, from an unaligned start
            lease.PrefetchForWrite(4000, 96);
            Assert.Equal(0xFEEDF00Du, lease.ReadUInt32(4092));
        }
        Assert.Throws<AddressRangeException>(() => { using var lease = region.Acquire(); lease.PrefetchForRead(4000, 97); });
        Assert.Throws<AddressRangeException>(() => { using var lease = region.Acquire(); lease.PrefetchForRead(-64, 64); });
        Assert.Equal(0, region.LiveLeases);
    }
}
