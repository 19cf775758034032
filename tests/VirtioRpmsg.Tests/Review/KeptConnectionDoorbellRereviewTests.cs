using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-d: an eventfd doorbell over a kept connection (ba6ffa6) throws <see cref="DoorbellClosedException"/> from any
/// wait that times out once the peer closed the connection, not only the dispatcher's idle re-check: a send inside a
/// receive callback whose ring is full waits on the doorbell itself (RpmsgTxPath.WaitInCallback).
/// </summary>
public sealed class KeptConnectionDoorbellRereviewTests
{
    [Fact]
    public void CallbackSend_RingFull_PeerClosedItsConnection_SenderGetsDeviceUnavailable_AndTheDeviceBreaks()
    {
        var local = EventFdDoorbell.Create("vrpmsg-test-kept-callback");
        var peer = local.CreatePeer();
        var (ours, theirs) = DescriptorPassing.CreatePair();
        local.KeepConnection(ours);
        using var loop = RpmsgLoopback.Create(
            // The dispatcher's own idle wait must not see the close first: only the callback sender's waits time out.
            host: o => (o.IdleRecheckInterval, o.SendTimeout) = (TimeSpan.FromMinutes(5), TimeSpan.FromMilliseconds(300)),
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // nobody polls: the host's buffers never return
            vringNum: 16,
            hostDoorbell: _ => local,
            remoteDoorbell: _ => peer);
        Exception? seen = null;
        using var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            theirs.Dispose(); // the peer leaves
            try
            {
                for (int i = 0; i < 1_000; i++)
                    ept.SendTo(0x400, [1, 2, 3]);
            }
            catch (Exception e)
            {
                seen = e;
            }
            finally
            {
                done.Set();
            }
        });
        loop.Remote.CreateEndpoint(0x400);
        loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [1]);

        Assert.True(done.Wait(TimeSpan.FromSeconds(30)));
        Assert.IsType<RpmsgDeviceUnavailableException>(seen);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Contains("closed the connection", loop.Host.StateReason, StringComparison.Ordinal);
    }

    [Fact]
    public void CallerPollHost_PeerClosedItsConnection_APollBreaksTheDevice()
    {
        // `rpmsg ping --wait poll` against a killed standalone remote: a caller-polled device never waits on the
        // doorbell, so only its Poll's drain can see the peer go (as it does for a socket doorbell).
        var local = EventFdDoorbell.Create("vrpmsg-test-kept-poll");
        var peer = local.CreatePeer();
        var (ours, theirs) = DescriptorPassing.CreatePair();
        local.KeepConnection(ours);
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostDoorbell: _ => local,
            remoteDoorbell: _ => peer);

        theirs.Dispose();

        loop.WaitUntil(() => loop.Host.State == RpmsgDeviceState.Broken, "the caller-polled host to see its peer gone");
        Assert.Equal(FaultRule.DoorbellClosed, Assert.IsType<Fault>(loop.Host.Fault).Rule);
    }
}
