using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// Review (mbstop) of the mailbox stop path and of kept kicks: Stop must not return while another thread still owes
/// its change to the i.MX MU control register (the caller may unmap right after); registers made for one mapping must
/// not reach the next one (recovery remaps and builds a new mailbox); a kick a ringer hands to a busy holder must
/// not be stranded while its controller can take it.
/// </summary>
public sealed class MailboxStopReviewTests
{
    private const long ControlV1 = 0x24;

    [Fact]
    public void ImxGeneralPurpose_StopWhileARingOwnsTheControlRegister_DoesNotReturnWithTheEnableStillSet()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        var mu = new ImxMessagingUnit(model, signal: ImxMuSignal.GeneralPurpose);
        mu.Start();
        Assert.True(model.GeneralPurposeInterruptEnabled(1));
        using var ownerInside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool parked = false;
        // The ringer owns the control register and is preempted between its read and its write.
        model.OnAccess = entry =>
        {
            if (parked || !entry.StartsWith($"R {ControlV1:X3}:", StringComparison.Ordinal))
                return;
            parked = true;
            ownerInside.Set();
            release.Wait();
        };
        var ringer = new Thread(() => mu.TryRing());
        ringer.Start();
        Assert.True(ownerInside.Wait(TimeSpan.FromSeconds(10)));

        var stop = Task.Run(mu.Stop);
        // Bounded: a Stop that leaves its change to the parked owner returns at once; one that waits for the owner
        // is still waiting when the bound ends, and the owner is let go after it.
        bool stopReturnedWhileOwnerParked = stop.Wait(TimeSpan.FromMilliseconds(500));
        bool enabledWhenStopReturned = stopReturnedWhileOwnerParked && model.GeneralPurposeInterruptEnabled(1);
        // What the caller does after Stop (UioDoorbell.Dispose, then the link unmaps): the registers go away.
        if (stopReturnedWhileOwnerParked)
            model.Unmapped = true;
        release.Set();
        Assert.True(ringer.Join(TimeSpan.FromSeconds(10)));
        Assert.True(stop.Wait(TimeSpan.FromSeconds(10)));
        model.Unmapped = false;

        Assert.False(enabledWhenStopReturned, "Stop returned while GIE1 was still set: the ring owning the control register was left to clear it");
        Assert.False(model.GeneralPurposeInterruptEnabled(1), "GIE1 is still set after Stop: the owner's deferred clear found the registers unmapped");
        Assert.True(model.PeerTakeRequest(1), "the ring made before Stop never reached the peer");
    }

    [Fact]
    public void MmioRegisterBlock_AfterTheRegionIsUnmappedAndRemapped_DoesNotTouchTheNewMapping()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-mmio-generation");
        var old = new MmioRegisterBlock(region, 0, 0x40);
        Assert.True(old.TryWrite32(0x24, 0x0800_0000));

        // Recovery: the session's teardown unmaps, the next session remaps and builds a new mailbox over new blocks.
        region.Unmap();
        region.Remap();
        var fresh = new MmioRegisterBlock(region, 0, 0x40);
        Assert.True(fresh.TryWrite32(0x24, 0x0800_0000));

        // An object of the earlier session (a ring, a Stop, a deferred enable change still under way) must fail
        // rather than clear or set bits the new session's mailbox depends on.
        Assert.False(old.TryWrite32(0x24, 0), "a register block of the earlier mapping wrote into the new mapping");
        Assert.False(old.TryRead32(0x24, out _), "a register block of the earlier mapping read the new mapping");
        Assert.True(fresh.TryRead32(0x24, out uint value));
        Assert.Equal(0x0800_0000u, value);
    }

    [Fact]
    public void Stm32Ipcc_KickOfAFreeVringChannelLeftWithAHolderWhoseChannelIsOccupied_GoesOutAtOnce()
    {
        var model = new Stm32IpccModel();
        var ipcc = Stm32Ipcc.ForVrings(model);
        ipcc.Start();
        Assert.True(ipcc.TryRing(0));
        Assert.True(model.Occupied(1, 0));
        // The M4 has not taken vring 0's kick: channel 0 stays occupied. Channel 1 (vring 1) is free.
        bool? vring1Rang = null;
        model.OnAccess = entry =>
        {
            // While the holder of the kicks (ringing vring 0 again) reads our status, another thread kicks vring 1
            // and, finding the holder busy, leaves its kick to it.
            if (vring1Rang is null && entry.StartsWith("R 00C:", StringComparison.Ordinal))
                vring1Rang = ipcc.TryRing(1);
        };

        Assert.False(ipcc.TryRing(0));

        Assert.False(vring1Rang, "the nested ring was expected to find the holder busy");
        Assert.True(model.Occupied(1, 1), "vring 1's kick was stranded: its channel is free, but the holder gave up after vring 0's channel refused");
    }
}
