using VirtioRpmsg.Tests.DeviceMemory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// <c>VirtqueueDevice.TryPeekNextAvailable</c> (the buffer a poller's look prefetches, <c>HasAvailableThenPrefetch</c>): it names the buffer the next take
/// would return without taking it, looks only at entries a validated index read already covers (no read of avail.idx),
/// and on a driver's invalid entry says "nothing" without breaking the queue, which the take then does.
/// </summary>
public class DevicePeekTests
{
    private const int Num = 8;

    // The driver (written by hand) publishes heads 0..count-1, each one writable descriptor of 64 bytes at slot i.
    private static void PublishHeads(VringTestBed bed, int count)
    {
        for (int i = 0; i < count; i++)
        {
            bed.WriteDescriptor(i, VringTestBed.SlotAddress(i), 64, VringFlags.DescriptorWrite, 0);
            bed.MakeAvailable(i, (ushort)i, (ushort)(i + 1));
        }
    }

    [Fact]
    public void BeforeAnyIndexRead_NothingIsKnown()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _));
    }

    [Fact]
    public void NamesTheNextChainsBuffer_WithoutTakingIt()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        Assert.True(device.TryTakeAvailable(out var first)); // reads avail.idx: 3 entries validated
        Assert.Equal(0, first.Head);
        for (int next = 1; next < 3; next++)
        {
            Assert.True(device.TryPeekNextAvailable(out _, out long offset, out uint length));
            Assert.True(device.TryPeekNextAvailable(out _, out long again, out _)); // peeking takes nothing
            Assert.Equal(offset, again);
            Assert.True(device.TryTakeAvailable(out var chain));
            Assert.Equal(next, chain.Head);
            Assert.Equal((offset, length), (chain[0].Offset, chain[0].Length));
        }
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _)); // all validated entries taken
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnInvalidHeadOrDescriptor_IsNotPeeked_AndTheTakeBreaksTheQueue(bool badHead)
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        if (badHead)
            bed.MakeAvailable(1, Num + 5, 3);                                       // slot 1: head out of range
        else
            bed.WriteDescriptor(1, 0xDEAD_0000, 64, VringFlags.DescriptorWrite, 0); // head 1: outside every region
        Assert.True(device.TryTakeAvailable(out _));
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _));
        Assert.False(device.IsBroken);
        Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _));
        Assert.Equal(badHead ? FaultRule.HeadOutOfRange : FaultRule.DescriptorOutOfRange, device.Fault?.Rule);
    }

    [Fact]
    public void APollersLook_ValidatesTheIndex_SoTheFirstChainIsPeeked()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        Assert.True(device.HasAvailable); // the look a poller makes (RxPending) before it takes
        Assert.True(device.TryPeekNextAvailable(out _, out long offset, out uint length));
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal((0, offset, length), (chain.Head, chain[0].Offset, chain[0].Length));
    }

    [Fact]
    public void APollersLook_AtAnIndexJump_RecordsNothing_AndTheTakeBreaksTheQueue()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        bed.MakeAvailable(3, 3, Num + 1); // more entries pending than the ring holds
        Assert.True(device.HasAvailable);
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _));
        Assert.False(device.IsBroken);
        Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _));
        Assert.Equal(FaultRule.AvailIndexJump, device.Fault?.Rule);
    }

    [Fact]
    public void AfterTheRingIsUnmapped_NothingIsPeeked_AndNothingThrown()
    {
        // Sends peek after their publication: a hint there must not turn a message already sent into an exception.
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        Assert.True(device.TryTakeAvailable(out _));
        bed.RingRegion.Unmap();
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _));
    }

    [Fact]
    public void OnDeviceMemory_NothingIsPeeked()
    {
        using var scope = DeviceMemoryScope.Enter();
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        PublishHeads(bed, 3);
        Assert.True(device.TryTakeAvailable(out _));
        Assert.False(device.TryPeekNextAvailable(out _, out _, out _));
        Assert.True(device.TryTakeAvailable(out var next));
        Assert.Equal(1, next.Head);
    }
}
