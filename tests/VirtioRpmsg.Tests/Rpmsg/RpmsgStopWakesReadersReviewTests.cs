using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (asyncwaits): Stop wakes every blocked and parked reader as it begins (WakeAll), as Break does. It took the
/// endpoints out of the table before WakeAll walked the table, so their queues closed only at the end of Stop, after it
/// had waited for the dispatcher thread (or a Poll) to finish its callback: a reader stayed blocked for as long as that
/// callback ran, and a callback that waits for such a reader waited for itself until it gave up.
/// </summary>
public sealed class RpmsgStopWakesReadersReviewTests
{
    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, false)]
    [InlineData(RpmsgWaitStrategy.Hybrid, false)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, false)]
    [InlineData(RpmsgWaitStrategy.CallerPoll, false)]
    [InlineData(RpmsgWaitStrategy.Interrupt, true)]
    [InlineData(RpmsgWaitStrategy.CallerPoll, true)]
    public void Stop_EndsBlockedAndParkedReaders_WhileACallbackStillRuns(RpmsgWaitStrategy wait, bool async)
    {
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = wait;
            o.ReaderWaitsOnDoorbell = false; // the reader sleeps on its queue, so the callback runs on the dispatcher
            o.BusyPollIdleTimeout = TimeSpan.FromMilliseconds(1);
            o.HybridSpin = TimeSpan.FromMilliseconds(1);
        });
        var queue = loop.Host.CreateEndpoint(0x500);
        Task reader = async
            ? queue.ReceiveAsync(new byte[16]).AsTask()
            : OnThread(() => queue.Receive(new byte[16], Timeout.InfiniteTimeSpan));
        Assert.True(SpinWait.SpinUntil(() => queue.ReceiveQueue!.Sleepers == 1, Bound), "the reader did not go to sleep");

        using var inCallback = new ManualResetEventSlim();
        bool sawReaderEnd = false;
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            inCallback.Set();
            sawReaderEnd = ((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound);
        });
        loop.Remote.CreateEndpoint(0x601).SendTo(0x600, [1]);
        var poll = wait == RpmsgWaitStrategy.CallerPoll ? OnThread(() => loop.Host.Poll()) : Task.FromResult(0);
        Assert.True(inCallback.Wait(Bound), "the callback did not run");

        var stop = Task.Run(() => loop.Host.Stop());
        Assert.True(stop.Wait(Bound), "Stop did not return");
        Assert.True(poll.Wait(Bound));
        Assert.True(sawReaderEnd, "the reader stayed blocked while Stop waited for the callback");
        var e = Assert.Throws<AggregateException>(() => reader.Wait(Bound));
        Assert.IsType<RpmsgDeviceUnavailableException>(e.InnerException);
    }
}
