using VirtioRpmsg;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The async doorbell holder (<see cref="RpmsgDoorbellAsyncHolder"/>) against what may run on its thread: callbacks
/// of its Poll that wait for a receive, continuations that wait for one another, continuations that change the
/// thread's context, and a reader that leaves before the holder takes the doorbell. Interleavings pinned with hooks
/// and gates, not sleeps.
/// </summary>
public class RpmsgDoorbellAsyncHolderReviewTests
{
    // How long a wait that the fixed code ends at once may take before a test calls it stuck.
    private static readonly TimeSpan Stuck = TimeSpan.FromSeconds(15);
    private static readonly AsyncLocal<string?> s_flowing = new();

    // A remote that only moves when polled; a long idle re-check and idle hold: a wait only they end outlasts the bounds.
    private static RpmsgLoopback Loop()
    {
        var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Host.Rx.HandOver.Async.IdleHold = TimeSpan.FromSeconds(120);
        return loop;
    }

    /// <summary>A receive parked now (on the calling thread), so that its continuation runs wherever its completion does.</summary>
    private static ValueTask<RpmsgReceiveResult> Parked(RpmsgEndpoint queue, byte[] buffer, CancellationToken token = default)
    {
        var receive = queue.ReceiveAsync(buffer, token);
        Assert.False(receive.IsCompleted, "the receive found a message: it did not park");
        return receive;
    }

    private static void AwaitAsyncHolder(RpmsgLoopback loop, Func<bool> stillBlocked)
    {
        AwaitHeld(loop, stillBlocked);
        Assert.True(loop.Host.Rx.HandOver.Async.IsScheduled, $"a reader other than the async holder holds the doorbell ({loop.Host.Rx.HandOver})");
    }

    /// <summary>
    /// A host callback that blocks the holder's Poll until released: messages sent meanwhile are all taken by its
    /// next pass over the ring, so their receives complete in one Poll.
    /// </summary>
    private sealed class Gate : IDisposable
    {
        internal readonly ManualResetEventSlim Entered = new(), Release = new();

        internal Gate(RpmsgLoopback loop, uint address) => loop.Host.CreateEndpoint(address, (_, _, _) =>
        {
            Entered.Set();
            Release.Wait(Bound);
        });

        public void Dispose()
        {
            Release.Set();
            Entered.Dispose();
            Release.Dispose();
        }
    }

    /// <summary>A continuation as a raw delegate, not an async method's: it runs where the receive completes, in that thread's context.</summary>
    private static void OnCompletedRaw(ValueTask<RpmsgReceiveResult> receive, Action then)
    {
        var awaiter = receive.ConfigureAwait(false).GetAwaiter(); // no scheduling context
        awaiter.UnsafeOnCompleted(() =>
        {
            awaiter.GetResult();
            then();
        });
    }

    [Fact]
    public void TheLastReaderLeavingBeforeTheHolderTakesTheDoorbell_TheHolderDoesNotWaitOnIt()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var handOver = loop.Host.Rx.HandOver;
        var poker = loop.Remote.CreateEndpoint(0x601);
        // The only parked reader is cancelled as the holder is about to take the lent doorbell (after the last reader
        // left, before the holder counts as holding: nobody tells it to leave). Should the dispatcher take its lend back
        // meanwhile (the holder then does not take it), again.
        for (int attempt = 0; ; attempt++)
        {
            Assert.True(attempt < 50, "the holder never took the doorbell after the reader's cancellation");
            using var cts = new CancellationTokenSource();
            int takesBefore = -1;
            handOver.Async.BeforeTake = () =>
            {
                if (handOver.IsLent && Volatile.Read(ref takesBefore) < 0)
                {
                    cts.Cancel();
                    Volatile.Write(ref takesBefore, handOver.Takes);
                }
            };
            var receive = queue.ReceiveAsync(new byte[16], cts.Token).AsTask();
            loop.WaitUntil(() =>
            {
                poker.SendTo(0x5FF, [0]); // the lend comes at the dispatcher's next idle moment, after a ring
                return Volatile.Read(ref takesBefore) >= 0;
            }, "the reader cancelled as the holder takes the doorbell");
            Assert.True(((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Bound));
            Assert.True(receive.IsCanceled);
            loop.WaitUntil(() => handOver.Takes > takesBefore || !handOver.Async.IsScheduled, "the holder took the doorbell or left");
            if (handOver.Takes == takesBefore)
                continue;
            handOver.Async.BeforeTake = null;
            // Nobody is parked: the holder must not keep a pool thread (and the doorbell) for its idle hold (120 s here).
            loop.WaitUntil(() => !handOver.Async.IsScheduled && handOver.IsHeldByDispatcher, "the holder left with nobody parked", (int)Stuck.TotalSeconds);
            return;
        }
    }

    [Fact]
    public void ACallbackOnTheHoldersThread_CancellingAParkedReceive_SeesItCompleteWhileItWaits()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        using var cts = new CancellationTokenSource();
        var receive = Parked(queue, new byte[16], cts.Token).AsTask();
        bool onHolder = false, completed = false;
        using var done = new ManualResetEventSlim();
        // Stops a reader and waits for it to end (a shutdown message, say): its completion must not wait for the callback.
        loop.Host.CreateEndpoint(0x502, (_, _, _) =>
        {
            onHolder = loop.Host.Rx.HandOver.IsHeldByCurrentThread;
            cts.Cancel();
            completed = ((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Stuck);
            done.Set();
        });
        AwaitAsyncHolder(loop, () => !receive.IsCompleted);
        loop.Remote.CreateEndpoint(0x601).SendTo(0x502, [1]);
        Assert.True(done.Wait(Bound + Stuck), "the callback never ran");
        Assert.True(onHolder, "the callback did not run on the async holder's thread");
        Assert.True(completed, "the cancelled receive completed only after the callback that waited for it returned");
        Assert.True(receive.IsCanceled);
    }

    [Fact]
    public async Task ACallbackOnTheHoldersThread_WaitingForAReceiveItsPollCompletedEarlier_SeesItComplete()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        using var gate = new Gate(loop, 0x503);
        var receive = Parked(queue, new byte[16]).AsTask();
        bool completed = false;
        using var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (_, _, _) =>
        {
            completed = ((IAsyncResult)receive).AsyncWaitHandle.WaitOne(Stuck);
            done.Set();
        });
        AwaitAsyncHolder(loop, () => !receive.IsCompleted);
        var peer = loop.Remote.CreateEndpoint(0x601);
        peer.SendTo(0x503, [0]);
        Assert.True(gate.Entered.Wait(Bound), "the gate's callback never ran");
        // One pass of the holder's Poll: the queue's message, then the callback that waits for its receive.
        peer.SendTo(0x500, [1, 2]);
        peer.SendTo(0x502, [3]);
        gate.Release.Set();
        Assert.True(done.Wait(Bound + Stuck), "the callback never ran");
        Assert.True(completed, "the receive completed before the callback only ran once the callback returned");
        Assert.Equal(2, (await receive).Length);
    }

    [Fact]
    public async Task AContinuationWaitingForAReceiveCompletedInTheSamePoll_IsNotStuckBehindIt()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        using var gate = new Gate(loop, 0x503);
        var first = Parked(queue, new byte[16]);
        var second = Parked(queue, new byte[16]);
        var secondDone = Completion(second);
        var firstThenSecond = FirstThenWaitForSecond(first, secondDone);
        AwaitAsyncHolder(loop, () => !firstThenSecond.IsCompleted);
        var peer = loop.Remote.CreateEndpoint(0x601);
        peer.SendTo(0x503, [0]);
        Assert.True(gate.Entered.Wait(Bound), "the gate's callback never ran");
        peer.SendTo(0x500, [1]);
        peer.SendTo(0x500, [2, 2]);
        gate.Release.Set();
        Assert.True(await firstThenSecond.WaitAsync(Bound + Stuck), "the first receive's continuation (sync over async) waited in vain for the second's");
        Assert.Equal(2, await secondDone);

        static async Task<int> Completion(ValueTask<RpmsgReceiveResult> receive) => (await receive.ConfigureAwait(false)).Length;

        // Blocks its thread until the other receive's continuation ran (sync over async): fine on a pool thread of its own.
        static async Task<bool> FirstThenWaitForSecond(ValueTask<RpmsgReceiveResult> receive, Task<int> second)
        {
            await receive.ConfigureAwait(false);
            return ((IAsyncResult)second).AsyncWaitHandle.WaitOne(Stuck);
        }
    }

    [Fact]
    public void AContinuationChangingItsThreadsContext_DoesNotLeakItIntoTheHoldersNextTake()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var holder = loop.Host.Rx.HandOver.Async;
        using var cts = new CancellationTokenSource();
        var buffer = new byte[16];
        var first = Parked(queue, buffer, cts.Token);
        int ranOn = 0;
        string? seen = null;
        SynchronizationContext? seenContext = null;
        using var looked = new ManualResetEventSlim();
        // What the holder runs next on its thread (its take, the callbacks of its next Poll) must not see what a raw
        // continuation (not an async method's: nothing restores its context) left on the thread, as on a pool thread.
        holder.BeforeTake = () =>
        {
            if (Volatile.Read(ref ranOn) == Environment.CurrentManagedThreadId && !looked.IsSet)
            {
                seen = s_flowing.Value;
                seenContext = SynchronizationContext.Current;
                looked.Set();
            }
        };
        ValueTask<RpmsgReceiveResult> second = default;
        OnCompletedRaw(first, () =>
        {
            s_flowing.Value = "set by a continuation";
            SynchronizationContext.SetSynchronizationContext(new SynchronizationContext());
            second = queue.ReceiveAsync(buffer, cts.Token); // parks: the holder takes the doorbell again for it
            Volatile.Write(ref ranOn, Environment.CurrentManagedThreadId);
        });
        AwaitAsyncHolder(loop, () => Volatile.Read(ref ranOn) == 0);
        loop.Remote.CreateEndpoint(0x601).SendTo(0x500, [1]);
        Assert.True(looked.Wait(Bound), $"the holder did not take the doorbell again after the continuation ({loop.Host.Rx.HandOver})");
        Assert.Null(seen);
        Assert.Null(seenContext);
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => second.AsTask().GetAwaiter().GetResult());
    }
}
