using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The prefetch a dispatcher issues when a doorbell wakes it (<c>PrefetchNextLines</c>, both roles): at every ring
/// position, wrap-around included, its lines stay inside the ring (the ring is the whole region here, so a slot not
/// wrapped round would throw the lease's range error by the second lap), nothing in the ring changes, and an unmapped
/// ring makes it do nothing rather than throw.
/// </summary>
public class WakePrefetchTests
{
    private const int Num = 8;

    private static byte[] Snapshot(VringTestBed bed)
    {
        var bytes = new byte[bed.RingRegion.Size];
        using var lease = bed.RingRegion.Acquire();
        lease.ReadBytes(0, bytes);
        return bytes;
    }

    private static void PrefetchBoth(VringTestBed bed, VirtqueueDriver driver, VirtqueueDevice device)
    {
        var before = Snapshot(bed);
        driver.PrefetchNextLines();
        device.PrefetchNextLines();
        Assert.Equal(before, Snapshot(bed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AtEveryPosition_LinesStayInsideTheRing_AndNothingChanges(bool eventIndex)
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        // Three laps of the ring one chain at a time, and prefetches between every step of each round trip.
        for (int i = 0; i < 3 * Num; i++)
        {
            PrefetchBoth(bed, driver, device);
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i % 4), 64, deviceWritable: true, token: i));
            driver.KickPrepare();
            PrefetchBoth(bed, driver, device);
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsedAndNotifyPrepare(chain.Head, 16);
            PrefetchBoth(bed, driver, device);
            Assert.True(driver.TryGetUsed(out int token, out _));
            Assert.Equal(i, token);
        }
        Assert.Equal(0, bed.RingRegion.LiveLeases);
    }

    [Fact]
    public void AfterTheRingIsUnmapped_NothingIsPrefetched_AndNothingThrown()
    {
        // The dispatcher prefetches on every wake-up; a teardown that unmapped the ring meanwhile must not fail it.
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        bed.RingRegion.Unmap();
        driver.PrefetchNextLines();
        device.PrefetchNextLines();
        Assert.Equal(0, bed.RingRegion.LiveLeases);
    }
}
