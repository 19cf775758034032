using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (vhost5): a resumed device's withdrawals and its CREATEs go out at link-up on the dispatcher thread, each a
/// blocking send. A peer that never returns buffers must not hold the dispatcher (and every message to this device)
/// for one send timeout per message, or for ever with an infinite one; and a stop must still end the wait.
/// </summary>
public sealed class Vhost5LinkUpSendsReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static RpmsgLoopback Stalled(Action<RpmsgDeviceOptions> remote, int withdrawals)
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // never polled: the host's rx buffers never come back
            remote: remote, vringNum: 4, start: false);
        loop.Remote.WithdrawAtLinkUp = [.. Enumerable.Range(0, withdrawals).Select(i => ($"gone{i}", 0x800u + (uint)i))];
        return loop;
    }

    /// <summary>
    /// 40 withdrawals beyond the host's four rx buffers, 1 s send timeout each: the dispatcher was held 40 s, and the
    /// host's message to the remote waited all that time. Once one link-up message has waited a whole send timeout,
    /// the rest only try.
    /// </summary>
    [Fact]
    public void PeerReturnsNoBuffersAtLinkUp_TheDispatcherIsHeldForOneSendTimeoutInAll()
    {
        using var loop = Stalled(o => o.SendTimeout = TimeSpan.FromSeconds(1), withdrawals: 44);
        var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Remote.CreateEndpoint(0x900, (_, _, _) => delivered.TrySetResult());
        loop.Remote.Start();
        loop.Host.Start();
        using var ept = loop.Host.CreateEndpoint();
        ept.SendTo(0x900, [1], Bound);
        Assert.True(delivered.Task.Wait(Bound), $"the remote's dispatcher is still held by its link-up sends: {loop.Remote.Dump()}");
        Assert.Equal(RpmsgDeviceState.Running, loop.Remote.State);
        // What did not go out is still the driver's: left for the next device to withdraw.
        loop.Remote.Stop();
        Assert.Contains(("gone43", 0x82Bu), loop.Remote.AnnouncedAtStop);
    }

    /// <summary>With an infinite send timeout, the link-up's sends are bounded all the same (the dispatcher is the library's).</summary>
    [Fact]
    public void PeerReturnsNoBuffersAtLinkUp_InfiniteSendTimeout_TheDispatcherIsNotHeldForEver()
    {
        using var loop = Stalled(o => (o.SendTimeout, o.LinkUpAnnounceLimit) = (Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(1)), withdrawals: 6);
        var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Remote.CreateEndpoint(0x900, (_, _, _) => delivered.TrySetResult());
        loop.Remote.Start();
        loop.Host.Start();
        using var ept = loop.Host.CreateEndpoint();
        ept.SendTo(0x900, [1], Bound);
        Assert.True(delivered.Task.Wait(Bound), $"the remote's dispatcher is still held by its link-up sends: {loop.Remote.Dump()}");
        Assert.Equal(RpmsgDeviceState.Running, loop.Remote.State);
    }

    /// <summary>Refutation: a stop (and a dispose) ends a link-up send that would wait for ever, and the dispatcher ends.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LinkUpSendWaitingForEver_StopOrDispose_Completes(bool dispose)
    {
        using var loop = Stalled(o => (o.SendTimeout, o.LinkUpAnnounceLimit) = (Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan), withdrawals: 6);
        long before = loop.Remote.Counters.TxBufferWaits;
        loop.Remote.Start();
        loop.Host.Start();
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, before);
        var stop = Task.Factory.StartNew(() =>
        {
            if (dispose)
                loop.Remote.Dispose();
            else
                loop.Remote.Stop();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(stop.Wait(Bound), "the stop did not end the link-up's send");
        Assert.Equal(RpmsgDeviceState.Stopped, loop.Remote.State);
    }
}
