using System.Diagnostics;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (asyncwaits): wake-ups of queue readers. A blocking reader sleeps on its queue's lock and the writer wakes one
/// sleeper per message (Monitor.Pulse); a reader that was woken and then left without taking the message (too small for
/// it, or its token cancelled) must pass that wake-up on, or a second reader with room sleeps beside a queued message.
/// And a ReceiveAsync inside a receive callback must not spin for a message only its own thread could deliver.
/// </summary>
public sealed class RpmsgReceiveWakeReviewTests
{
    // The host caller-polled: a blocking reader sleeps on its queue at once, and only the test's Poll delivers.
    private static RpmsgLoopback CallerPollHost() => RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    private static void AwaitSleepers(RpmsgEndpoint endpoint, int count) =>
        Assert.True(SpinWait.SpinUntil(() => endpoint.ReceiveQueue!.Sleepers == count, Bound), $"{count} reader(s) did not go to sleep");

    [Fact]
    public void AReaderWokenForAMessageTooBigForIt_PassesTheWakeUpOn_ToTheSleepingReaderWithRoom()
    {
        using var loop = CallerPollHost();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        // The small reader sleeps first, so it is first in the lock's wait queue and the writer's one pulse goes to it.
        var small = OnThread(() => endpoint.Receive(new byte[2], Timeout.InfiniteTimeSpan));
        AwaitSleepers(endpoint, 1);
        var room = new byte[16];
        var large = OnThread(() => endpoint.Receive(room, Timeout.InfiniteTimeSpan));
        AwaitSleepers(endpoint, 2);

        peer.SendTo(0x500, [1, 2, 3, 4]);
        Assert.Equal(1, loop.Host.Poll());

        Assert.True(((IAsyncResult)small).AsyncWaitHandle.WaitOne(Bound), "the small reader was not woken");
        Assert.Throws<ArgumentException>(() => small.GetAwaiter().GetResult());
        Assert.True(large.Wait(Bound), "the reader with room still sleeps while the message it fits stays queued");
        Assert.Equal(new RpmsgReceiveResult(0x501, 4), large.Result);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, room[..4]);
    }

    [Fact]
    public void AReaderWokenForAMessageAsItsTokenIsCancelled_PassesTheWakeUpOn_ToTheOtherSleepingReader()
    {
        using var loop = CallerPollHost();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        using var cts = new CancellationTokenSource();
        var cancelled = OnThread(() => endpoint.Receive(new byte[16], Timeout.InfiniteTimeSpan, cts.Token));
        AwaitSleepers(endpoint, 1);
        var room = new byte[16];
        var other = OnThread(() => endpoint.Receive(room, Timeout.InfiniteTimeSpan));
        AwaitSleepers(endpoint, 2);

        // Registered after the reader's own wake-up callback, so Cancel runs it first (newest first): the token reads
        // cancelled while the reader's callback has not run yet, and this one holds it back until the reader has left.
        using var inCancel = new ManualResetEventSlim();
        using var registration = cts.Token.Register(() =>
        {
            inCancel.Set();
            ((IAsyncResult)cancelled).AsyncWaitHandle.WaitOne(Bound);
        });
        var canceller = Task.Run(cts.Cancel);
        Assert.True(inCancel.Wait(Bound), "the cancellation did not start");

        peer.SendTo(0x500, [7]);
        Assert.Equal(1, loop.Host.Poll()); // its pulse goes to the first sleeper: the reader whose token now reads cancelled

        Assert.True(((IAsyncResult)cancelled).AsyncWaitHandle.WaitOne(Bound), "the cancelled reader did not leave");
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.GetAwaiter().GetResult());
        Assert.True(canceller.Wait(Bound));
        Assert.True(other.Wait(Bound), "the other reader still sleeps while a message stays queued");
        Assert.Equal(new RpmsgReceiveResult(0x501, 1), other.Result);
        Assert.Equal(7, room[0]);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    public async Task ReceiveAsyncInsideAReceiveCallback_ParksAtOnce_InsteadOfSpinningTheDispatcherForItsBudget(RpmsgWaitStrategy wait)
    {
        // Inside a callback this thread owns the rx ring: nothing can reach the queue until the callback returns, so a
        // spin there only stalls the device (under BusyPoll for BusyPollIdleTimeout, 200 ms by default, per receive).
        // A budget far past the bound: a spin for it fails the check below, a thread descheduled for seconds does not.
        var budget = TimeSpan.FromMinutes(2);
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = wait;
            o.BusyPollIdleTimeout = budget;
            o.HybridSpin = budget;
        });
        var queue = loop.Host.CreateEndpoint(0x600);
        var buffer = new byte[16];
        var took = TimeSpan.MaxValue;
        ValueTask<RpmsgReceiveResult> pending = default;
        using var called = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            var clock = Stopwatch.StartNew();
            pending = queue.ReceiveAsync(buffer);
            took = clock.Elapsed;
            called.Set();
        });
        var peer = loop.Remote.CreateEndpoint(0x501);
        peer.SendTo(0x500, [1]);
        Assert.True(called.Wait(Bound), "the callback did not run");
        Assert.False(pending.IsCompleted);
        Assert.True(took < Bound, $"ReceiveAsync inside the callback took {took.TotalMilliseconds:F0} ms (spin budget {budget.TotalMilliseconds} ms)");

        peer.SendTo(0x600, [2, 3]);
        var result = await pending.AsTask().WaitAsync(Bound);
        Assert.Equal(new RpmsgReceiveResult(0x501, 2), result);
        Assert.Equal(new byte[] { 2, 3 }, buffer[..2]);
    }
}
