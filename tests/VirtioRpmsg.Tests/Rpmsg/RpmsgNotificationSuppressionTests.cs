using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A side that does not wait on its doorbell (CallerPoll) must ask the peer not to kick and read the
/// kicks that come anyway: a peer whose kick blocks (OpenAMP's one-byte send() on a Unix socket)
/// would otherwise fill the doorbell and hang. Both roles, with and without EVENT_IDX.
/// </summary>
public class RpmsgNotificationSuppressionTests
{
    private const int RoundTrips = 1000;

    // The remote kicks for the NS announcement at most; a handful covers races with the link-up.
    private const int FewKicks = 8;

    [Theory]
    [InlineData(RpmsgFeatures.NameService)]
    [InlineData(RpmsgFeatures.NameService | VirtioFeatures.EventIndex)]
    public void CallerPollHost_EchoRoundTrips_RemoteIsAskedNotToKick(uint features)
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, deviceFeatures: features);
        loop.Remote.CreateEndpoint(0x400, (ept, source, payload) => ept.SendTo(source, payload));
        var queue = loop.Host.CreateEndpoint(0x500);
        long kicksBefore = loop.RemoteDoorbell.RingCount;
        EchoAll(loop, queue, () => loop.Host.Poll());
        long kicks = loop.RemoteDoorbell.RingCount - kicksBefore;
        Assert.True(kicks <= FewKicks, $"the remote kicked the caller-polling host {kicks} times for {RoundTrips} echoes");
    }

    [Theory]
    [InlineData(RpmsgFeatures.NameService)]
    [InlineData(RpmsgFeatures.NameService | VirtioFeatures.EventIndex)]
    public void CallerPollRemote_EchoRoundTrips_HostIsAskedNotToKick(uint features)
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, deviceFeatures: features);
        loop.Remote.CreateEndpoint(0x400, (ept, source, payload) => ept.SendTo(source, payload));
        var queue = loop.Host.CreateEndpoint(0x500);
        long kicksBefore = loop.HostDoorbell.RingCount;
        EchoAll(loop, queue, () => loop.Remote.Poll());
        long kicks = loop.HostDoorbell.RingCount - kicksBefore;
        Assert.True(kicks <= FewKicks, $"the host kicked the caller-polling remote {kicks} times for {RoundTrips} messages");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Poll_KicksPending_ConsumesThem(bool pollHost)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = pollHost ? RpmsgWaitStrategy.CallerPoll : RpmsgWaitStrategy.Interrupt,
            remote: o => o.WaitStrategy = pollHost ? RpmsgWaitStrategy.Interrupt : RpmsgWaitStrategy.CallerPoll);
        var (poller, pollerBell, peerBell) = pollHost ? (loop.Host, loop.HostDoorbell, loop.RemoteDoorbell) : (loop.Remote, loop.RemoteDoorbell, loop.HostDoorbell);
        Assert.True(peerBell.Ring(), "the peer's kick was not delivered");
        // A Poll reads the doorbell at most once per RpmsgKickDrain.Interval (a system call each): the link-up's polls
        // may have read it just now, so one interval passes first. Waited out on the clock, not a sleep for a race.
        long due = System.Diagnostics.Stopwatch.GetTimestamp() + RpmsgKickDrain.Interval;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < due)
            Thread.SpinWait(1);
        poller.Poll();
        Assert.False(pollerBell.Drain(), "Poll left the peer's kick pending on the doorbell");
    }

    private static void EchoAll(RpmsgLoopback loop, RpmsgEndpoint queue, Action poll)
    {
        var payload = new byte[4];
        var echo = new byte[4];
        for (int i = 0; i < RoundTrips; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            queue.SendTo(0x400, payload);
            RpmsgReceiveResult result = default;
            loop.WaitUntil(() =>
            {
                poll();
                return queue.TryReceive(echo, TimeSpan.Zero, out result);
            }, $"echo {i}");
            Assert.Equal(4, result.Length);
            Assert.Equal(i, BitConverter.ToInt32(echo));
        }
    }
}
