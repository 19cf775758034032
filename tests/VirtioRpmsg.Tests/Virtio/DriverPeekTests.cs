using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// <c>VirtqueueDriver.PeekUsed</c> (the host's rx prefetch hint, read by a poller's look): it names the chain the next
/// take would reclaim without reclaiming it, and on a device's invalid index or element says "pending, nothing to
/// name" without breaking the queue, which the take then does with the rule it always did.
/// </summary>
public class DriverPeekTests
{
    private const int Num = 8;

    // Three writable buffers posted and published: heads 0, 1, 2 with tokens 100, 101, 102, each 300 bytes long.
    private static VirtqueueDriver DriverWithThreePosted(VringTestBed bed)
    {
        var driver = bed.CreateDriver();
        for (int i = 0; i < 3; i++)
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 300, deviceWritable: true, token: 100 + i));
        driver.KickPrepare();
        return driver;
    }

    [Fact]
    public void NothingUsed_NothingPending()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithThreePosted(bed);
        Assert.False(driver.PeekUsed(out int token, out _));
        Assert.Equal(-1, token);
    }

    [Fact]
    public void NamesTheNextChain_WithoutReclaimingIt()
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithThreePosted(bed);
        bed.MakeUsed(0, 1, 40, 1);
        bed.MakeUsed(1, 0, 50, 2);
        int free = driver.FreeCount;
        Assert.True(driver.PeekUsed(out int token, out uint length));
        Assert.Equal((101, 40u), (token, length));
        Assert.True(driver.PeekUsed(out int again, out _)); // peeking reclaims nothing
        Assert.Equal(101, again);
        Assert.Equal(free, driver.FreeCount);
        Assert.True(driver.TryGetUsed(out int taken, out uint takenLength));
        Assert.Equal((101, 40u), (taken, takenLength));
        Assert.True(driver.PeekUsed(out token, out length));
        Assert.Equal((100, 50u), (token, length));
        Assert.True(driver.TryGetUsed(out taken, out _));
        Assert.Equal(100, taken);
        Assert.False(driver.PeekUsed(out token, out _));
        Assert.Equal(-1, token);
    }

    public static TheoryData<uint, uint, ushort, FaultRule> InvalidUsed => new()
    {
        { 0, 10, 4, FaultRule.UsedIndexJump },          // four used, three published
        { Num, 10, 1, FaultRule.UsedIdOutOfRange },     // id == num
        { 5, 10, 1, FaultRule.UsedIdNotOutstanding },   // never posted
        { 0, 301, 1, FaultRule.UsedLengthTooLarge },    // longer than the 300-byte buffer
    };

    [Theory]
    [MemberData(nameof(InvalidUsed))]
    public void AnInvalidIndexOrElement_IsPendingButNotNamed_AndTheTakeBreaksTheQueue(uint id, uint length, ushort usedIdx, FaultRule rule)
    {
        using var bed = new VringTestBed(Num);
        var driver = DriverWithThreePosted(bed);
        bed.MakeUsed(0, id, length, usedIdx);
        Assert.True(driver.PeekUsed(out int token, out _));
        Assert.Equal(-1, token);
        Assert.False(driver.IsBroken);
        Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsed(out _, out _));
        Assert.Equal(rule, driver.Fault?.Rule);
        Assert.Throws<VirtqueueBrokenException>(() => driver.PeekUsed(out _, out _)); // a broken queue is not looked at
    }
}
