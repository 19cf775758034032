using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// A consumer's give-back and next take in one step (one lease): <c>VirtqueueDevice.TryGiveBackAndTake</c> and
/// <c>VirtqueueDriver.TryAddPooledThenGetUsedOrPublish</c> do what the separate calls did in that order. What is given back
/// stays unpublished while a take follows, the take that finds nothing publishes it (and says whether to notify), and a
/// refusal changes nothing.
/// </summary>
public class VirtqueueConsumerStepTests
{
    private const int Num = 8;

    [Fact]
    public void Device_GiveBackThenTake_UnpublishedWhileOneIsTaken_PublishedByTheTakeThatFindsNothing()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < 2; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 32, false, 100 + i, out _));
        Assert.True(device.TryGiveBackAndTake(-1, 0, out var first, out bool notify));
        Assert.False(notify);
        int head = first.Head;
        Assert.True(device.TryGiveBackAndTake(head, 32, out var second, out notify));
        Assert.False(notify);
        Assert.NotEqual(head, second.Head);
        Assert.False(driver.HasUsed); // given back, not published: a take followed
        Assert.False(device.TryGiveBackAndTake(second.Head, 32, out _, out notify));
        Assert.True(notify); // the driver did not suppress interrupts
        var tokens = new int[Num];
        Assert.Equal(2, driver.TryGetUsedTokens(tokens));
        Assert.Equal([100, 101], tokens[..2]);
        Assert.False(device.TryGiveBackAndTake(-1, 0, out _, out notify));
        Assert.False(notify); // nothing new since
    }

    [Fact]
    public void Device_GiveBackOfAHeadNotTaken_Throws_NothingTaken()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 32, false, 100, out _));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => device.TryGiveBackAndTake(3, 32, out _, out _));
        Assert.Contains("head 3", e.Message);
        Assert.Equal(0, device.NextAvailIndex);
        Assert.True(device.TryTakeAvailable(out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Driver_RepostThenTake_UnpublishedWhileOneIsTaken_PublishedByTheTakeThatFindsNothing(bool eventIndex)
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, true, 1, out _));
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(1), 64, true, 2, out _));
        Assert.True(device.TryTakeAvailable(out var a));
        int headA = a.Head;
        Assert.True(device.TryTakeAvailable(out var b));
        device.PushUsed(headA, 16);
        device.PushUsed(b.Head, 16);
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(1, token);
        // Slot 0 goes back while the next used one is taken: not published yet.
        Assert.True(driver.TryAddPooledThenGetUsedOrPublish(VringTestBed.SlotAddress(0), 64, true, 1, out bool added, out token, out uint length, out bool kick));
        Assert.True(added);
        Assert.Equal((2, 16u, false), (token, length, kick));
        Assert.False(device.HasAvailable);
        // Slot 1 goes back and nothing more is used: both published, the device kicked (it did not suppress).
        Assert.False(driver.TryAddPooledThenGetUsedOrPublish(VringTestBed.SlotAddress(1), 64, true, 2, out added, out _, out _, out kick));
        Assert.True(added);
        Assert.True(kick);
        Assert.True(device.TryTakeAvailable(out var c));
        Assert.Equal(VringTestBed.SlotAddress(0), c[0].DeviceAddress);
        Assert.True(device.TryTakeAvailable(out var d));
        Assert.Equal(VringTestBed.SlotAddress(1), d[0].DeviceAddress);
    }

    [Fact]
    public void Driver_RepostWithNoDescriptorFree_AddsNothing_TakesNothing()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 64, true, i, out _));
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 8);
        Assert.False(driver.TryAddPooledThenGetUsedOrPublish(VringTestBed.SlotAddress(0), 64, true, 99, out bool added, out _, out _, out bool kick));
        Assert.False(added);
        Assert.False(kick);
        Assert.True(driver.HasUsed); // the used one is still there for the next take
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(0, token);
    }
}
