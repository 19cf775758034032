using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// A poller's look with its prefetch under one lease (<c>VirtqueueDevice.HasAvailableThenPrefetch</c>,
/// <c>VirtqueueDriver.PeekUsedThenPrefetch</c>), and a send's publication through the lease its fill used
/// (<c>PushUsedAndNotifyPrepare</c> and <c>TryAddPooledAndPublish</c> with a lease): a look takes nothing, records
/// nothing but a validated index, and never breaks the queue; a lease on another mapping is refused before anything is
/// written.
/// </summary>
public class VirtqueuePollerLookTests
{
    private const int Num = 8;

    [Fact]
    public void DeviceLook_SaysWhetherAChainIsAvailable_TakesNothing()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.False(device.HasAvailableThenPrefetch(512));
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(3), 64, false, 7, out _));
        Assert.True(device.HasAvailableThenPrefetch(512));
        Assert.True(device.HasAvailableThenPrefetch(512)); // looking again takes nothing
        Assert.Equal(0, device.NextAvailIndex);
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal(VringTestBed.SlotAddress(3), chain[0].DeviceAddress);
        Assert.False(device.HasAvailableThenPrefetch(512));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DeviceLook_AtAnInvalidHeadOrDescriptor_SaysAvailable_TheTakeBreaksTheQueue(bool badHead)
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        if (badHead)
        {
            bed.MakeAvailable(0, Num + 5, 1);
        }
        else
        {
            bed.WriteDescriptor(0, 0xDEAD_0000, 64, 0, 0);
            bed.MakeAvailable(0, 0, 1);
        }
        Assert.True(device.HasAvailableThenPrefetch(512));
        Assert.False(device.IsBroken);
        Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _));
        Assert.Equal(badHead ? FaultRule.HeadOutOfRange : FaultRule.DescriptorOutOfRange, device.Fault?.Rule);
    }

    [Fact]
    public void DeviceLook_AtAnIndexJump_SaysAvailable_RecordsNothing_TheTakeBreaksTheQueue()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.WriteUInt16(bed.Layout.AvailOffset + 2, 300);
        Assert.True(device.HasAvailableThenPrefetch(512));
        Assert.False(device.IsBroken);
        var fault = Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _)).Fault;
        Assert.Equal(FaultRule.AvailIndexJump, fault.Rule);
    }

    [Fact]
    public void DriverLook_SaysWhetherAChainWasUsed_ReclaimsNothing_TokenBeyondTheLimitIsNotFetched()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        var pool = bed.BufferRegion.Bind();
        Assert.False(driver.PeekUsedThenPrefetch(pool, 0, VringTestBed.SlotSize, Num));
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, true, 0, out _));
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(1), 64, true, 40, out _));
        Assert.True(device.TryTakeAvailable(out var a));
        int headA = a.Head;
        Assert.True(device.TryTakeAvailable(out var b));
        device.PushUsed(headA, 16);
        device.PushUsed(b.Head, 16);
        Assert.True(driver.PeekUsedThenPrefetch(pool, 0, VringTestBed.SlotSize, Num));
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((0, 16u), (token, length));
        Assert.True(driver.PeekUsedThenPrefetch(pool, 0, VringTestBed.SlotSize, Num)); // token 40: not a pool buffer, not fetched
        Assert.True(driver.TryGetUsed(out token, out _));
        Assert.Equal(40, token);
        Assert.False(driver.PeekUsedThenPrefetch(pool, 0, VringTestBed.SlotSize, Num));
    }

    [Fact]
    public void DevicePublishThroughALeaseOnAnotherMapping_IsRefused_NothingWritten()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, true, 1, out _));
        Assert.True(device.TryTakeAvailable(out var chain));
        int head = chain.Head;
        using (var buffers = bed.BufferRegion.Acquire())
        {
            Assert.False(buffers.Covers(bed.Vring.Region));
            ArgumentException? e = null;
            try
            {
                device.PushUsedAndNotifyPrepare(head, 16, buffers);
            }
            catch (ArgumentException x)
            {
                e = x;
            }
            Assert.NotNull(e);
            Assert.Contains(bed.RingRegion.Name, e.Message);
        }
        Assert.False(driver.HasUsed);
        using (var ring = bed.RingRegion.Acquire())
        {
            Assert.True(ring.Covers(bed.Vring.Region));
            Assert.True(device.PushUsedAndNotifyPrepare(head, 16, ring));
        }
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(1, token);
    }

    [Fact]
    public void DriverPublishThroughALeaseOnAnotherMapping_IsRefused_NothingAdded()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        bool refused = false;
        using (var buffers = bed.BufferRegion.Acquire())
        {
            try
            {
                driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, false, 1, out _, buffers);
            }
            catch (ArgumentException)
            {
                refused = true;
            }
        }
        Assert.True(refused);
        Assert.Equal(Num, driver.FreeCount);
        Assert.False(device.HasAvailable);
        using (var ring = bed.RingRegion.Acquire())
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, false, 1, out _, ring));
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal(VringTestBed.SlotAddress(0), chain[0].DeviceAddress);
    }
}
