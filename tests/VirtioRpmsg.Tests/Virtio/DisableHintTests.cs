using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// A polling dispatcher disables notifications once per loop; the hint is written only when it is not in the ring
/// yet (after an enable or a reset) or when the "far" event could come within the peer's reach, so the line the peer
/// reads after every publication stays shared instead of moving back to the disabling core each loop.
/// </summary>
public class DisableHintTests
{
    private const ushort Sentinel = 0x5A5A;

    [Fact]
    public void Driver_DisableAgain_DoesNotRewriteTheFarEvent_UntilEnabledOrOutOfReach()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        long usedEvent = bed.Layout.UsedEventOffset;
        driver.DisableInterrupts();
        Assert.Equal(VringEvent.FarFrom(0, 8), bed.ReadUInt16(usedEvent));
        bed.WriteUInt16(usedEvent, Sentinel);
        driver.DisableInterrupts();
        Assert.Equal(Sentinel, bed.ReadUInt16(usedEvent)); // not rewritten

        Assert.True(driver.EnableInterrupts());
        driver.DisableInterrupts();
        Assert.Equal(VringEvent.FarFrom(0, 8), bed.ReadUInt16(usedEvent)); // after an enable it is written again

        // Consume until the event written at 0 would come within a quarter of the margin: the next disable moves it.
        int reach = (65536 - 8) / 4;
        for (int i = 0; i < reach; i++)
        {
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(0), 64, true, i));
            driver.KickPrepare();
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsed(chain.Head, 0);
            Assert.True(driver.TryGetUsed(out _, out _));
            if (i == reach - 2)
            {
                bed.WriteUInt16(usedEvent, Sentinel);
                driver.DisableInterrupts();
                Assert.Equal(Sentinel, bed.ReadUInt16(usedEvent)); // still far
            }
        }
        driver.DisableInterrupts();
        Assert.Equal(VringEvent.FarFrom((ushort)reach, 8), bed.ReadUInt16(usedEvent));
    }

    [Fact]
    public void Device_DisableAgain_DoesNotRewriteTheFarEvent_UntilEnabled()
    {
        using var bed = new VringTestBed(8);
        bed.CreateDriver(eventIndex: true);
        var device = bed.CreateDevice(eventIndex: true);
        long availEvent = bed.Layout.AvailEventOffset;
        device.DisableNotifications();
        Assert.Equal(VringEvent.FarFrom(0, 8), bed.ReadUInt16(availEvent));
        bed.WriteUInt16(availEvent, Sentinel);
        device.DisableNotifications();
        Assert.Equal(Sentinel, bed.ReadUInt16(availEvent));

        Assert.True(device.EnableNotifications());
        device.DisableNotifications();
        Assert.Equal(VringEvent.FarFrom(0, 8), bed.ReadUInt16(availEvent));
    }

    [Fact]
    public void Flags_DisableAgain_DoesNotRewrite_UntilEnabled()
    {
        using var bed = new VringTestBed(8);
        var driver = bed.CreateDriver(eventIndex: false);
        long flags = bed.Layout.AvailOffset;
        driver.DisableInterrupts();
        Assert.Equal(VringFlags.AvailNoInterrupt, bed.ReadUInt16(flags));
        bed.WriteUInt16(flags, 0);
        driver.DisableInterrupts();
        Assert.Equal(0, bed.ReadUInt16(flags));
        Assert.True(driver.EnableInterrupts());
        driver.DisableInterrupts();
        Assert.Equal(VringFlags.AvailNoInterrupt, bed.ReadUInt16(flags));
    }
}
