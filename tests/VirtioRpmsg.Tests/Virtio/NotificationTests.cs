using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>Notification suppression both ways: flags, event index (exactly per the formula), wrap-around, re-check.</summary>
public class NotificationTests
{
    [Theory]
    [InlineData(0, 1, 0, true)]            // event at the first new entry
    [InlineData(1, 1, 0, false)]           // event not reached yet
    [InlineData(5, 10, 3, true)]           // inside (old, new]
    [InlineData(10, 10, 3, false)]         // event == new: not passed
    [InlineData(2, 10, 3, false)]          // already passed before old
    [InlineData(3, 10, 3, true)]           // event == old: the first new entry
    [InlineData(0xFFFF, 0, 0xFFFE, true)]  // crossing 65535 -> 0
    [InlineData(0xFFFF, 0xFFFF, 0xFFFE, false)]
    [InlineData(0xFFFE, 2, 0xFFF0, true)]  // window spans the wrap
    [InlineData(3, 2, 0xFFF0, false)]      // event just beyond a wrapped window
    [InlineData(7, 7, 7, false)]           // nothing moved
    public void NeedsNotification_Cases_MatchFormula(int eventIdx, int newIdx, int oldIdx, bool expected) =>
        Assert.Equal(expected, VringEvent.NeedsNotification((ushort)eventIdx, (ushort)newIdx, (ushort)oldIdx));

    [Fact]
    public void NeedsNotification_Exhaustive_EqualsIndexInHalfOpenWindow()
    {
        // For every window (old, old+n] and every event: notify iff event is in [old, old+n).
        for (int old = 65500; old < 65500 + 80; old += 3)
            for (int n = 0; n < 12; n++)
                for (int e = old - 20; e < old + 20; e++)
                {
                    bool inWindow = e >= old && e < old + n;
                    Assert.Equal(inWindow, VringEvent.NeedsNotification((ushort)e, (ushort)(old + n), (ushort)old));
                }
    }

    [Fact]
    public void KickPrepare_EventIndexAcrossWrap_NotifiesExactlyWhenFormulaSays()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        device.DisableNotifications(); // the device stops writing avail_event; the test writes it instead
        ushort published = 0;
        int notified = 0;
        for (int i = 0; i < 70_000; i++)
        {
            int batch = 1 + i % 3;
            for (int b = 0; b < batch; b++)
                Assert.True(driver.TryAdd(VringTestBed.SlotAddress(b), 64, true, i));
            ushort availEvent = (ushort)(published + (i % 5) - 1); // one before, at, inside, and beyond the window
            bed.WriteUInt16(bed.Layout.AvailEventOffset, availEvent);
            bool expected = (ushort)(availEvent - published) < batch;
            Assert.Equal(expected, driver.KickPrepare());
            notified += expected ? 1 : 0;
            published = (ushort)(published + batch);
            for (int b = 0; b < batch; b++)
            {
                Assert.True(device.TryTakeAvailable(out var chain));
                device.PushUsed(chain.Head, 0);
                Assert.True(driver.TryGetUsed(out _, out _));
            }
        }
        Assert.True(notified > 10_000);
        Assert.Equal(published, bed.ReadUInt16(bed.Layout.AvailOffset + 2)); // 139,999 entries: wrapped twice
    }

    [Fact]
    public void NotifyPrepare_EventIndexAcrossWrap_NotifiesExactlyWhenFormulaSays()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        driver.DisableInterrupts(); // the driver stops writing used_event; the test writes it instead
        ushort used = 0;
        for (int i = 0; i < 70_000; i++)
        {
            int batch = 1 + i % 3;
            for (int b = 0; b < batch; b++)
                Assert.True(driver.TryAdd(VringTestBed.SlotAddress(b), 64, false, i));
            driver.KickPrepare();
            for (int b = 0; b < batch; b++)
            {
                Assert.True(device.TryTakeAvailable(out var chain));
                device.PushUsed(chain.Head, 64);
            }
            ushort usedEvent = (ushort)(used + (i % 5) - 1);
            bed.WriteUInt16(bed.Layout.UsedEventOffset, usedEvent);
            Assert.Equal((ushort)(usedEvent - used) < batch, device.NotifyPrepare());
            Assert.False(device.NotifyPrepare()); // nothing new since
            used = (ushort)(used + batch);
            for (int b = 0; b < batch; b++)
                Assert.True(driver.TryGetUsed(out _, out _));
        }
    }

    [Fact]
    public void KickPrepare_EventIndexDeviceEnabled_NotifiesOnceUntilDeviceCatchesUp()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(0), 8, true, 1));
        Assert.True(driver.KickPrepare());          // avail_event 0 is crossed
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(1), 8, true, 2));
        Assert.False(driver.KickPrepare());         // device has not consumed: no second kick
        Assert.True(device.TryTakeAvailable(out _)); // avail_event -> 1
        Assert.True(device.TryTakeAvailable(out _)); // avail_event -> 2
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(2), 8, true, 3));
        Assert.True(driver.KickPrepare());
    }

    [Fact]
    public void NotifyPrepare_EventIndexDriverEnabled_FollowsReclaims()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        for (int i = 0; i < 3; i++)
            driver.TryAdd(VringTestBed.SlotAddress(i), 8, true, i);
        driver.KickPrepare();
        for (int i = 0; i < 3; i++)
            Assert.True(device.TryTakeAvailable(out _));
        device.PushUsed(0, 1);
        Assert.True(device.NotifyPrepare());   // used_event 0 crossed
        device.PushUsed(1, 1);
        Assert.False(device.NotifyPrepare());  // driver has not reclaimed yet
        Assert.True(driver.TryGetUsed(out _, out _));
        Assert.True(driver.TryGetUsed(out _, out _)); // used_event -> 2
        device.PushUsed(2, 1);
        Assert.True(device.NotifyPrepare());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void KickPrepare_DeviceDisabledNotifications_DoesNotNotify(bool eventIndex)
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        device.DisableNotifications();
        if (!eventIndex)
            Assert.Equal(VringFlags.UsedNoNotify, bed.ReadUInt16(bed.Layout.UsedOffset));
        for (int round = 0; round < 3000; round++)
        {
            for (int i = 0; i < 5; i++)
                Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 8, true, i));
            Assert.False(driver.KickPrepare());
            for (int i = 0; i < 5; i++)
            {
                Assert.True(device.TryTakeAvailable(out var chain));
                device.PushUsed(chain.Head, 8);
                Assert.True(driver.TryGetUsed(out _, out _));
            }
        }
        Assert.True(device.EnableNotifications()); // nothing pending
        Assert.Equal(0, bed.ReadUInt16(bed.Layout.UsedOffset));
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(0), 8, true, 0));
        Assert.True(driver.KickPrepare());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NotifyPrepare_DriverDisabledInterrupts_DoesNotNotifyUntilEnabled(bool eventIndex)
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        driver.DisableInterrupts();
        if (!eventIndex)
            Assert.Equal(VringFlags.AvailNoInterrupt, bed.ReadUInt16(bed.Layout.AvailOffset));
        for (int round = 0; round < 3000; round++)
        {
            for (int i = 0; i < 5; i++)
                Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 8, false, i));
            driver.KickPrepare();
            for (int i = 0; i < 5; i++)
            {
                Assert.True(device.TryTakeAvailable(out var chain));
                device.PushUsed(chain.Head, 8);
            }
            Assert.False(device.NotifyPrepare());
            for (int i = 0; i < 5; i++)
                Assert.True(driver.TryGetUsed(out _, out _));
        }
        Assert.True(driver.EnableInterrupts());
        Assert.True(driver.TryAdd(VringTestBed.SlotAddress(0), 8, false, 0));
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var last));
        device.PushUsed(last.Head, 8);
        Assert.True(device.NotifyPrepare());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EnableInterrupts_UsedAlreadyPending_ReturnsFalse(bool eventIndex)
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        driver.DisableInterrupts();
        driver.TryAdd(VringTestBed.SlotAddress(0), 8, true, 5);
        driver.KickPrepare();
        Assert.True(device.TryTakeAvailable(out var chain));
        device.PushUsed(chain.Head, 8);
        Assert.False(driver.EnableInterrupts()); // the race-free re-check sees the pending entry
        Assert.True(driver.TryGetUsed(out _, out _));
        Assert.True(driver.EnableInterrupts());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EnableNotifications_AvailAlreadyPending_ReturnsFalse(bool eventIndex)
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        device.DisableNotifications();
        driver.TryAdd(VringTestBed.SlotAddress(0), 8, true, 5);
        Assert.False(driver.KickPrepare());
        Assert.False(device.EnableNotifications());
        Assert.True(device.TryTakeAvailable(out _));
        Assert.True(device.EnableNotifications());
    }
}
