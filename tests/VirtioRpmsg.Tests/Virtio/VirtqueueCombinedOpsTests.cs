using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The one-lease combinations the rpmsg data path uses (add-and-publish, push-and-notify, reclaim in a batch)
/// behave exactly like the separate calls, validation included.
/// </summary>
public class VirtqueueCombinedOpsTests
{
    private const int Num = 8;

    [Fact]
    public void TryAddPooledAndPublish_MakesTheBufferAvailableAtOnce()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(3), 64, deviceWritable: false, token: 7, out bool kick));
        Assert.True(kick); // no suppression asked for yet
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal((1, 64u, VringTestBed.SlotAddress(3), false), (chain.SegmentCount, chain[0].Length, chain[0].DeviceAddress, chain[0].DeviceWritable));
        Assert.Equal(Num - 1, driver.FreeCount);
    }

    [Fact]
    public void TryAddPooledAndPublish_DeviceSuppressedNotifications_NoKick()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        device.DisableNotifications();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 16, deviceWritable: true, token: 1, out bool kick));
        Assert.False(kick);
        Assert.True(device.HasAvailable);
    }

    [Fact]
    public void TryAddPooledAndPublish_NoFreeDescriptor_ReturnsFalseAndPublishesNothingMore()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 16, false, i, out _));
        ushort availIdx = bed.ReadUInt16(bed.Layout.AvailOffset + 2);
        Assert.False(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 16, false, 99, out bool kick));
        Assert.False(kick);
        Assert.Equal(availIdx, bed.ReadUInt16(bed.Layout.AvailOffset + 2));
    }

    [Fact]
    public void TryGetUsedTokens_ReturnsEveryUsedChainInUsedOrder_AndFreesTheirDescriptors()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < 3; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 32, false, 100 + i, out _));
        var heads = new int[3];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            heads[i] = chain.Head;
        }
        device.PushUsed(heads[2], 32);
        device.PushUsed(heads[0], 32);
        device.PushUsed(heads[1], 32);
        Span<int> tokens = stackalloc int[Num];
        Assert.Equal(3, driver.TryGetUsedTokens(tokens));
        Assert.Equal([102, 100, 101], tokens[..3].ToArray());
        Assert.Equal(Num, driver.FreeCount);
        Assert.Equal(0, driver.TryGetUsedTokens(tokens));
    }

    [Fact]
    public void TryGetUsedTokens_StopsWhenTheSpanIsFull()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < 2; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 32, false, i, out _));
        for (int i = 0; i < 2; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsed(chain.Head, 32);
        }
        Span<int> one = stackalloc int[1];
        Assert.Equal(1, driver.TryGetUsedTokens(one));
        Assert.True(driver.TryGetUsed(out int token, out _));
        Assert.Equal(1, token);
    }

    [Fact]
    public void TryGetUsedTokens_IdOutOfRange_BreaksLikeTryGetUsed()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 32, false, 5, out _));
        bed.MakeUsed(0, 300, 0, 1);
        var fault = Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsedTokens(new int[Num])).Fault;
        Assert.Equal((FaultRule.UsedIdOutOfRange, "used.ring[0].id", 300ul), (fault.Rule, fault.Field, fault.Value));
        Assert.True(driver.IsBroken);
    }

    [Fact]
    public void PushUsedAndNotifyPrepare_PublishesAndSaysWhetherToNotify()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(0), 64, true, 11, out _));
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(1), 64, true, 12, out _));
        Assert.True(device.TryTakeAvailable(out var first));
        Assert.True(device.PushUsedAndNotifyPrepare(first.Head, 20));
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((11, 20u), (token, length));

        driver.DisableInterrupts();
        Assert.True(device.TryTakeAvailable(out var second));
        Assert.False(device.PushUsedAndNotifyPrepare(second.Head, 5));
        Assert.True(driver.TryGetUsed(out token, out length));
        Assert.Equal((12, 5u), (token, length));
    }

    [Fact]
    public void PushUsedAndNotifyPrepare_HeadNotTaken_ThrowsAndWritesNothing()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        Assert.Throws<ArgumentOutOfRangeException>(() => device.PushUsedAndNotifyPrepare(3, 0));
        Assert.Equal(0, bed.ReadUInt16(bed.Layout.UsedOffset + 2));
    }
}
