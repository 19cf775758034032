using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The batched forms of the data path: adds and used pushes written without publishing (one index store and
/// one notification check per batch), and an index read once per batch instead of per entry. What a batch
/// defers becomes visible with the next publication, the notification decision still covers every entry of
/// the batch (no lost wake-up), and an index the peer writes is still validated whenever it is read.
/// </summary>
public class VirtqueueBatchedPublicationTests
{
    private const int Num = 8;

    [Fact]
    public void PushUsedDeferred_InvisibleToTheDriverUntilNotifyPrepare_ThenAllAtOnce()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        var heads = TakeThree(driver, device);
        foreach (int head in heads)
            device.PushUsedDeferred(head, 32);
        Assert.False(driver.HasUsed);
        Assert.Equal(0, bed.ReadUInt16(bed.Layout.UsedOffset + 2));

        Assert.True(device.NotifyPrepare()); // the driver did not suppress interrupts
        Assert.Equal(3, bed.ReadUInt16(bed.Layout.UsedOffset + 2));
        Assert.Equal(3, driver.TryGetUsedTokens(new int[Num]));
        Assert.False(device.NotifyPrepare()); // nothing new since
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PushUsedDeferred_DriverAskedForAnInterrupt_TheBatchNotifiesOnce(bool eventIndex)
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        var heads = TakeThree(driver, device);
        // The driver goes to sleep: interrupts on, nothing used yet (safe to wait).
        Assert.True(driver.EnableInterrupts());
        device.PushUsedDeferred(heads[0], 32);
        device.PushUsedDeferred(heads[1], 32);
        Assert.True(device.NotifyPrepare());
        Assert.True(driver.HasUsed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PushUsedDeferred_DriverSuppressedInterrupts_BatchPublishesWithoutNotifying(bool eventIndex)
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        var heads = TakeThree(driver, device);
        driver.DisableInterrupts();
        device.PushUsedDeferred(heads[0], 32);
        device.PushUsedDeferred(heads[1], 32);
        Assert.False(device.NotifyPrepare());
        Assert.Equal(2, driver.TryGetUsedTokens(new int[Num]));
    }

    [Fact]
    public void PushUsed_AfterDeferredPushes_PublishesThemToo()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        var heads = TakeThree(driver, device);
        device.PushUsedDeferred(heads[0], 32);
        device.PushUsed(heads[1], 32);
        var tokens = new int[Num];
        Assert.Equal(2, driver.TryGetUsedTokens(tokens));
        Assert.Equal([100, 101], tokens[..2]);
    }

    [Fact]
    public void PushUsedDeferred_HeadNotTaken_Throws()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => device.PushUsedDeferred(3, 32));
        Assert.Contains("head 3", e.Message);
    }

    [Fact]
    public void TryAddPooled_InvisibleToTheDeviceUntilKickPrepare()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        Assert.True(driver.TryAddPooled(VringTestBed.SlotAddress(0), 64, deviceWritable: true, token: 1));
        Assert.True(driver.TryAddPooled(VringTestBed.SlotAddress(1), 64, deviceWritable: true, token: 2));
        Assert.False(device.HasAvailable);
        Assert.True(driver.KickPrepare());
        // A chain views the device's private copy until the next take: read each before taking another.
        Assert.True(device.TryTakeAvailable(out var first));
        Assert.Equal(VringTestBed.SlotAddress(0), first[0].DeviceAddress);
        Assert.True(device.TryTakeAvailable(out var second));
        Assert.Equal(VringTestBed.SlotAddress(1), second[0].DeviceAddress);
        Assert.False(driver.KickPrepare()); // nothing new since
    }

    [Fact]
    public void TryAddPooled_DeviceWaitingWithEventIndex_KickPrepareKicksForTheBatch()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        Assert.True(device.EnableNotifications());
        Assert.True(driver.TryAddPooled(VringTestBed.SlotAddress(0), 64, deviceWritable: true, token: 1));
        Assert.True(driver.TryAddPooled(VringTestBed.SlotAddress(1), 64, deviceWritable: true, token: 2));
        Assert.True(driver.KickPrepare());
    }

    [Fact]
    public void Device_TakesEntriesAnEarlierIndexReadCovered_AndValidatesTheNextIndexItReads()
    {
        using var bed = new VringTestBed(Num);
        var device = bed.CreateDevice();
        bed.WriteDescriptor(0, VringTestBed.SlotAddress(0), 16, 0, 0);
        bed.WriteDescriptor(1, VringTestBed.SlotAddress(1), 16, 0, 0);
        bed.MakeAvailable(0, 0, 1);
        bed.MakeAvailable(1, 1, 2);
        Assert.True(device.TryTakeAvailable(out var first));
        // A hostile driver moves avail.idx 300 entries on: the entry the first read covered is still taken...
        bed.WriteUInt16(bed.Layout.AvailOffset + 2, 2 + 300);
        Assert.True(device.TryTakeAvailable(out var second));
        Assert.Equal((0, 1), (first.Head, second.Head));
        // ...and the next read of the index sees the jump.
        var fault = Assert.Throws<VirtqueueBrokenException>(() => device.TryTakeAvailable(out _)).Fault;
        Assert.Equal((FaultRule.AvailIndexJump, "avail.idx", 302ul), (fault.Rule, fault.Field, fault.Value));
    }

    [Fact]
    public void Driver_ReclaimsElementsAnEarlierIndexReadCovered_AndValidatesTheNextIndexItReads()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        for (int i = 0; i < 2; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 32, false, 10 + i, out _));
        bed.MakeUsed(0, 0, 32, 1);
        bed.MakeUsed(1, 1, 32, 2);
        Assert.True(driver.TryGetUsed(out int first, out _));
        bed.WriteUInt16(bed.Layout.UsedOffset + 2, 2 + 300);
        Assert.True(driver.TryGetUsed(out int second, out _));
        Assert.Equal((10, 11), (first, second));
        var fault = Assert.Throws<VirtqueueBrokenException>(() => driver.TryGetUsed(out _, out _)).Fault;
        Assert.Equal((FaultRule.UsedIndexJump, "used.idx", 302ul), (fault.Rule, fault.Field, fault.Value));
    }

    [Fact]
    public void Reset_ForgetsTheIndicesReadAndTheDeferredPushes()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        var heads = TakeThree(driver, device);
        device.PushUsedDeferred(heads[0], 32);
        driver.Reset();
        device.Reset();
        Assert.False(device.NotifyPrepare());
        Assert.False(device.HasAvailable);
        Assert.False(driver.HasUsed);
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(5), 32, false, 55, out _));
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal(VringTestBed.SlotAddress(5), chain[0].DeviceAddress);
    }

    private static int[] TakeThree(VirtqueueDriver driver, VirtqueueDevice device)
    {
        for (int i = 0; i < 3; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 32, false, 100 + i, out _));
        var heads = new int[3];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            heads[i] = chain.Head;
        }
        return heads;
    }
}
