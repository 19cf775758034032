using System.Diagnostics;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (txpath): under <see cref="RpmsgWaitStrategy.CallerPoll"/> nothing watches the doorbell, so a sender waiting
/// for a tx buffer is woken only by the application's next <c>Poll()</c>. A blocking send therefore re-tries (a try
/// reclaims what the peer returned) at least every <see cref="RpmsgDeviceOptions.IdleRecheckInterval"/>; an async send
/// parked for its whole timeout instead, so an application whose one loop awaits the send before it polls again saw
/// it time out although the peer had returned every buffer long before.
/// </summary>
public class TxPathCallerPollAsyncSendReviewTests
{
    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(20);
    // Far past the bound below: a send parked for its whole timeout is told from a pool thread descheduled for seconds.
    private static readonly TimeSpan SendTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SendAsync_CallerPollNobodyPolls_PeerReturnsBuffers_CompletesWithinTheRecheckInterval(bool fromHost)
    {
        using var loop = RpmsgLoopback.Create(vringNum: 16,
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.IdleRecheckInterval = Recheck; o.SendTimeout = SendTimeout; },
            remote: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.IdleRecheckInterval = Recheck; o.SendTimeout = SendTimeout; });
        var (sender, peer) = fromHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        int arrived = 0;
        var sink = peer.CreateEndpoint(0x600, (_, _, _) => Interlocked.Increment(ref arrived));
        var ept = sender.CreateEndpoint(0x700, sink.Address);
        int sent = 0;
        while (ept.TrySend([1]))
            sent++;
        Assert.Equal(16, sent);

        long waits = sender.Counters.TxBufferWaits;
        var send = ept.SendAsync(new byte[] { 2 }).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(sender, waits);
        Assert.True(SpinWait.SpinUntil(() => sender.Tx.SignalSleepers == 1, TimeSpan.FromSeconds(30)), "the async send did not park");
        // The peer takes every message and gives every buffer back; the sender's side is never polled.
        Assert.Equal(16, peer.Poll());
        var clock = Stopwatch.StartNew();
        var finished = await Task.WhenAny(send, Task.Delay(Bound));
        Assert.True(finished == send, $"the async send still waits {clock.ElapsedMilliseconds} ms after the peer returned every buffer (recheck {Recheck.TotalMilliseconds} ms)");
        await send;
        peer.Poll();
        Assert.Equal(17, arrived);
    }
}
