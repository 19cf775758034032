using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// One test per validation rule: the peer's side of the ring is written by hand with the violation,
/// and the queue must report the specific error, count it, stay broken until reset, and work after
/// reset. Both regions have inaccessible guard pages, so an access outside them would crash the run.
/// </summary>
public class HostilePeerTests
{
    private const int Num = 8;

    // ---- device side: the driver is hostile -------------------------------------------------

    private static void AssertDeviceBroken(VringTestBed bed, VirtqueueDevice device, FaultRule expected, string mentions)
    {
        var ex = Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _));
        Assert.Equal(expected, ex.Rule);
        Assert.Equal("test-device", ex.QueueName);
        Assert.Contains("test-device", ex.Message);
        Assert.Contains(mentions, ex.Message);
        Assert.True(device.IsBroken);
        Assert.Same(ex.Fault, device.Fault);
        Assert.Equal(FaultLayer.Virtqueue, ex.Fault.Layer);
        Assert.Equal(ex.Message, ex.Fault.Message);
        Assert.False(string.IsNullOrEmpty(ex.Fault.Field));
        Assert.Equal(1, device.GetErrorCount(expected));
        Assert.Equal(1, device.ErrorCount);

        // Every later call fails the same way, even once the ring looks fine again.
        bed.MakeAvailable(0, 0, 0);
        var again = Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _));
        Assert.Equal(expected, again.Rule);
        Assert.Equal(ex.Message, again.Message);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => device.HasAvailable).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => device.NotifyPrepare()).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => device.EnableNotifications()).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => device.PushUsed(0, 0)).Rule);

        // After a reset of both sides the queue works again.
        device.Reset();
        Assert.False(device.IsBroken);
        var driver = bed.CreateDriver();
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(3), 64, true, 33));
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 64);
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(33, token);
        Assert.Equal(1, device.ErrorCount); // counters survive reset
    }

    private static void ValidDescriptor(VringTestBed bed, int index, ushort flags = 0, ushort next = 0) =>
        bed.WriteDescriptor(index, VringTestBed.SlotAddress(index), 64, flags, next);

    [Fact]
    public void TryTakeAvailable_AvailIndexMovedMoreThanNum_BreaksWithAvailIndexJump()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        ValidDescriptor(bed, 0);
        bed.MakeAvailable(0, 0, Num + 1);
        AssertDeviceBroken(bed, device, FaultRule.AvailIndexJump, "avail.idx is 9");
    }

    [Fact]
    public void TryTakeAvailable_AvailIndexJump_FaultNamesFieldAndValue()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.MakeAvailable(0, 0, Num + 1);
        var fault = Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _)).Fault;
        Assert.Equal(new Fault(FaultLayer.Virtqueue, FaultRule.AvailIndexJump, "avail.idx", Num + 1, fault.Message), fault);
    }

    [Fact]
    public void TryTakeAvailable_AvailIndexMovedBackwards_BreaksWithAvailIndexJump()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.MakeAvailable(0, 0, 0xFFFF); // one step back from 0 = 65535 ahead
        AssertDeviceBroken(bed, device, FaultRule.AvailIndexJump, "65535");
    }

    [Fact]
    public void TryTakeAvailable_HeadNotBelowNum_BreaksWithHeadOutOfRange()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.MakeAvailable(0, Num, 1); // == num: the off-by-one a '> num' check would miss
        AssertDeviceBroken(bed, device, FaultRule.HeadOutOfRange, "is 8");
    }

    [Fact]
    public void TryTakeAvailable_NextNotBelowNum_BreaksWithNextOutOfRange()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        ValidDescriptor(bed, 0, VringFlags.DescriptorNext, 1);
        ValidDescriptor(bed, 1, VringFlags.DescriptorNext, 0xFFFF);
        bed.MakeAvailable(0, 0, 1);
        AssertDeviceBroken(bed, device, FaultRule.NextOutOfRange, "next 65535");
    }

    [Fact]
    public void TryTakeAvailable_ChainLoops_BreaksWithChainTooLong()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        ValidDescriptor(bed, 0, VringFlags.DescriptorNext, 1);
        ValidDescriptor(bed, 1, VringFlags.DescriptorNext, 2);
        ValidDescriptor(bed, 2, VringFlags.DescriptorNext, 1); // 1 -> 2 -> 1 ...
        bed.MakeAvailable(0, 0, 1);
        AssertDeviceBroken(bed, device, FaultRule.ChainTooLong, "head 0");
    }

    [Fact]
    public void TryTakeAvailable_SelfLoop_BreaksWithChainTooLong()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        ValidDescriptor(bed, 5, VringFlags.DescriptorNext, 5);
        bed.MakeAvailable(0, 5, 1);
        AssertDeviceBroken(bed, device, FaultRule.ChainTooLong, "head 5");
    }

    [Theory]
    [InlineData(0x7FFF_F000ul, 64u)]          // below the buffer region
    [InlineData(0x8000_7FF0ul, 0x20u)]        // straddles the end of the 32 KiB buffer region
    [InlineData(0x8000_8000ul, 1u)]           // just past it
    [InlineData(0xFFFF_FFFF_FFFF_FFF0ul, 0x100u)] // address + length overflows 64 bits
    [InlineData(VringTestBed.RingAddress, 16u)]   // the ring itself is not a buffer region
    public void TryTakeAvailable_DescriptorOutsideBuffers_BreaksWithDescriptorOutOfRange(ulong address, uint length)
    {
        using var bed = new VringTestBed(Num, slots: 64);
        var device = bed.CreateDevice();
        bed.WriteDescriptor(0, address, length, 0, 0);
        bed.MakeAvailable(0, 0, 1);
        AssertDeviceBroken(bed, device, FaultRule.DescriptorOutOfRange, $"addr 0x{address:X}");
    }

    [Fact]
    public void TryTakeAvailable_SecondDescriptorOutside_BreaksWithDescriptorOutOfRange()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        ValidDescriptor(bed, 0, VringFlags.DescriptorNext, 3);
        bed.WriteDescriptor(3, VringTestBed.SlotAddress(1), uint.MaxValue, VringFlags.DescriptorWrite, 0);
        bed.MakeAvailable(0, 0, 1);
        AssertDeviceBroken(bed, device, FaultRule.DescriptorOutOfRange, "descriptor 3");
    }

    [Fact]
    public void TryTakeAvailable_IndirectDescriptor_BreaksWithIndirectNotSupported()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.WriteDescriptor(2, VringTestBed.SlotAddress(0), 32, VringFlags.DescriptorIndirect, 0);
        bed.MakeAvailable(0, 2, 1);
        AssertDeviceBroken(bed, device, FaultRule.IndirectNotSupported, "INDIRECT");
    }

    // ---- driver side: the device is hostile -------------------------------------------------

    private static VirtqueueDriver DriverWithTwoPosted(VringTestBed bed)
    {
        var driver = bed.CreateDriver();
        Span<BufferSegment> chain = [new(VringTestBed.SlotAddress(0), 100, false), new(VringTestBed.SlotAddress(1), 200, true)];
        Assert.True(driver.TryAddChain(chain, 500)); // descriptors 0 -> 1, head 0
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(2), 300, false, 501)); // descriptor 2
        driver.KickPrepare();
        return driver;
    }

    private static void AssertDriverBroken(VringTestBed bed, VirtqueueDriver driver, FaultRule expected, string mentions)
    {
        int free = driver.FreeCount;
        var ex = Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsed(out _, out _));
        Assert.Equal(expected, ex.Rule);
        Assert.Contains("test-driver", ex.Message);
        Assert.Contains(mentions, ex.Message);
        Assert.True(driver.IsBroken);
        Assert.Same(ex.Fault, driver.Fault);
        Assert.Equal(FaultLayer.Virtqueue, ex.Fault.Layer);
        Assert.False(string.IsNullOrEmpty(ex.Fault.Field));
        Assert.Equal(1, driver.GetErrorCount(expected));
        Assert.Equal(free, driver.FreeCount); // nothing was freed on the strength of bad data

        var again = Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsed(out _, out _));
        Assert.Equal(ex.Message, again.Message);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => driver.TryAdd(VringTestBed.SlotAddress(5), 8, true, 1)).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => driver.KickPrepare()).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => driver.HasUsed).Rule);
        Assert.Equal(expected, Assert.Throws<VirtqueueBrokenException>(() => driver.EnableInterrupts()).Rule);

        driver.Reset();
        Assert.False(driver.IsBroken);
        Assert.Equal(Num, driver.FreeCount);
        var device = bed.CreateDevice();
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(4), 64, true, 44));
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 64);
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((44, 64u), (token, length));
        Assert.Equal(1, driver.ErrorCount);
    }

    [Fact]
    public void TryGetUsed_UsedIndexPastPublished_BreaksWithUsedIndexJump()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, 2, 300, 3); // three used, only two published
        AssertDriverBroken(bed, driver, FaultRule.UsedIndexJump, "used.idx is 3");
    }

    [Fact]
    public void TryGetUsed_IdOutOfRange_FaultNamesUsedElementAndValue()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, 300, 0, 1);
        var fault = Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsed(out _, out _)).Fault;
        Assert.Equal((FaultLayer.Virtqueue, FaultRule.UsedIdOutOfRange, "used.ring[0].id", 300ul), (fault.Layer, fault.Rule, fault.Field, fault.Value));
    }

    [Theory]
    [InlineData(8u, "id is 8")]                  // == num: the off-by-one a '> num' check would miss
    [InlineData(0xFFFF_FFFFu, "id is 4294967295")]
    public void TryGetUsed_IdNotBelowNum_BreaksWithUsedIdOutOfRange(uint id, string mentions)
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, id, 0, 1);
        AssertDriverBroken(bed, driver, FaultRule.UsedIdOutOfRange, mentions);
    }

    [Theory]
    [InlineData(1u)] // descriptor 1 is the tail of chain 0, not a head
    [InlineData(7u)] // never posted
    public void TryGetUsed_IdNotAHeadInFlight_BreaksWithUsedIdNotOutstanding(uint id)
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, id, 0, 1);
        AssertDriverBroken(bed, driver, FaultRule.UsedIdNotOutstanding, $"id is {id}");
    }

    [Fact]
    public void TryGetUsed_IdReturnedTwice_BreaksWithUsedIdNotOutstanding()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, 2, 300, 1);
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(501, token);
        bed.MakeUsed(1, 2, 300, 2); // the same chain again
        AssertDriverBroken(bed, driver, FaultRule.UsedIdNotOutstanding, "returned twice");
    }

    [Theory]
    [InlineData(0u, 201u, "at most 200")] // chain 0 has 200 device-writable bytes
    [InlineData(2u, 301u, "at most 300")] // the 300-byte device-readable (send) buffer
    public void TryGetUsed_LengthBeyondBuffer_BreaksWithUsedLengthTooLarge(uint id, uint length, string mentions)
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, id, length, 1);
        AssertDriverBroken(bed, driver, FaultRule.UsedLengthTooLarge, mentions);
    }

    [Fact]
    public void TryGetUsed_SendBufferFullLength_Accepted()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithTwoPosted(bed);
        bed.MakeUsed(0, 2, 300, 1); // OpenAMP reports a send buffer's full length
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((501, 300u), (token, length));
        Assert.False(driver.IsBroken);
    }
}
