using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Kicks read while nobody waits on the doorbell (<see cref="RpmsgKickDrain"/>): a doorbell where they pile up is read
/// at most once per interval; an eventfd, whose counter cannot fill, is left alone. Times are given, not waited for.
/// </summary>
public class RpmsgKickDrainTests
{
    private static readonly long Start = 10 * RpmsgKickDrain.Interval;

    [Fact]
    public void DrainIfDue_DoorbellThatFills_ReadsOncePerInterval()
    {
        var (ours, peer) = LoopbackDoorbell.CreatePair();
        var drain = new RpmsgKickDrain();

        Assert.True(peer.Ring());
        drain.DrainIfDue(ours, Start);
        Assert.False(ours.IsRung);

        Assert.True(peer.Ring());
        drain.DrainIfDue(ours, Start + RpmsgKickDrain.Interval - 1);
        Assert.True(ours.IsRung);

        drain.DrainIfDue(ours, Start + RpmsgKickDrain.Interval);
        Assert.False(ours.IsRung);
    }

    [Fact]
    public void DrainIfDue_EventFd_LeavesTheCountForTheNextWait()
    {
        using var ours = EventFdDoorbell.Create("vrpmsg-test-kick-drain");
        using var peer = ours.CreatePeer();
        var drain = new RpmsgKickDrain();

        Assert.True(peer.Ring());
        drain.DrainIfDue(ours, Start);
        drain.DrainIfDue(ours);

        Assert.False(RpmsgKickDrain.IsNeeded(ours));
        Assert.True(ours.Wait(TimeSpan.Zero), "the kick was read by the drain");
    }
}
