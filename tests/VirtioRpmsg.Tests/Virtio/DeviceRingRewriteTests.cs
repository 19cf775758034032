using VirtioRpmsg.Tests.DeviceMemory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The device skips rewriting a used element that already holds what it would write (<c>DeviceRingShadow</c>: its
/// record says so and a read-back confirms it). Whatever the ring held before, the driver must read exactly the id and
/// length returned: an element from an earlier lap with either field different, one the driver scribbled on, or one a
/// reset zeroed, is rewritten; on Device memory nothing is skipped.
/// </summary>
public class DeviceRingRewriteTests
{
    private const int Num = 4;

    // One buffer at a time through the ring: the driver's FIFO free list hands out descriptor k % Num on the k-th post,
    // which the device takes from avail slot k % Num and returns in used slot k % Num. Returns what the driver reclaimed.
    private static (int Token, uint Length) RoundTrip(VirtqueueDriver driver, VirtqueueDevice device, uint usedLength, int token)
    {
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(1), 64, deviceWritable: true, token, out _));
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, usedLength);
        Assert.True(driver.TryGetUsed(out int back, out uint length));
        return (back, length);
    }

    [Fact]
    public void SameElementInTheSameSlotALapLater_IsNotRewritten_AndTheDriverReadsIt()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < Num; i++)
            Assert.Equal((i, 8u), RoundTrip(driver, device, 8, i));
        Assert.Equal(0, device.UsedWritesSkipped); // first lap: nothing known yet
        for (int i = 0; i < 2 * Num; i++)
            Assert.Equal((100 + i, 8u), RoundTrip(driver, device, 8, 100 + i));
        Assert.Equal(2 * Num, device.UsedWritesSkipped);
        Assert.False(driver.IsBroken);
    }

    [Fact]
    public void ADifferentLengthOrHead_IsWritten()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < Num; i++)
            RoundTrip(driver, device, 8, i);
        // Used slot 0 held (head 0, 8): a new length must reach the driver.
        Assert.Equal((10, 24u), RoundTrip(driver, device, 24, 10));
        // Slots 1 and 2 held heads 1 and 2: two buffers in flight, returned in reverse, swap them.
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(1), 64, true, 11, out _)); // head 1
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(2), 64, true, 12, out _)); // head 2
        Assert.True(device.TryTakeAvailable(out var first));
        Assert.True(device.TryTakeAvailable(out var second));
        Assert.Equal((1, 2), (first.Head, second.Head));
        device.PushUsed(second.Head, 8); // used slot 1 <- head 2
        device.PushUsed(first.Head, 8);  // used slot 2 <- head 1
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(12, token);
        Assert.True(driver.TryGetUsed(out token, out _));
        Assert.Equal(11, token);
        Assert.Equal(0, device.UsedWritesSkipped);
    }

    [Fact]
    public void ScribbleOnAnElementTheRecordSaysIsUnchanged_IsCaughtByTheReadBackAndRewritten()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < Num; i++)
            RoundTrip(driver, device, 8, i);
        // Used slot 0 would get (head 0, 8) again; the peer overwrites it first with another head and length.
        bed.WriteUInt32(bed.Layout.UsedOffset + 4, 3);
        bed.WriteUInt32(bed.Layout.UsedOffset + 8, 500);
        Assert.Equal((7, 8u), RoundTrip(driver, device, 8, 7));
        Assert.Equal(0, device.UsedWritesSkipped);
        Assert.False(driver.IsBroken);
    }

    [Fact]
    public void AfterReset_TheRecordIsForgotten_EvenWhereTheZeroedRingHappensToMatch()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        // (head 0, length 0) is exactly what a zeroed slot holds, so only the forgotten record makes this a write.
        Assert.Equal((1, 0u), RoundTrip(driver, device, 0, 1));
        driver.Reset();
        device.Reset();
        Assert.Equal((2, 0u), RoundTrip(driver, device, 0, 2));
        Assert.Equal(0, device.UsedWritesSkipped);
        // And a changed value after a reset is written, not skipped.
        driver.Reset();
        device.Reset();
        Assert.Equal((3, 8u), RoundTrip(driver, device, 8, 3));
        Assert.Equal(0, device.UsedWritesSkipped);
    }

    [Fact]
    public void OnDeviceMemory_EveryElementIsWritten()
    {
        using var scope = DeviceMemoryScope.Enter();
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < 3 * Num; i++)
            Assert.Equal((i, 8u), RoundTrip(driver, device, 8, i));
        Assert.Equal(0, device.UsedWritesSkipped);
        Assert.Equal(0, driver.RingWritesSkipped);
    }
}
