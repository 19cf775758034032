using VirtioRpmsg;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The doorbell hand-over (<see cref="RpmsgDoorbellHandOver"/>) against the rest of the stack: an application's own
/// Poll, senders waiting for buffers, several readers. Each test pins one interleaving with hooks, not with sleeps.
/// </summary>
public class RpmsgDoorbellHandOverReviewTests
{
    private static RpmsgLoopback Loop(RpmsgWaitStrategy remote = RpmsgWaitStrategy.CallerPoll) => InterruptLoopOnOneWaiterDoorbells(remote);

    [Fact]
    public void CallbackInAnApplicationsPoll_WaitingForABuffer_IsWokenWhileAReaderHoldsTheDoorbell()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var sink = loop.Remote.CreateEndpoint(0x600);
        var sender = loop.Host.CreateEndpoint(0x501);
        int appThread = 0;
        Exception? sendFailure = null;
        using var sent = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (ep, _, _) =>
        {
            try
            {
                // No buffer free: waits for the remote to return one. Its own timeout (and the idle re-check) far
                // beyond the bound below: only a wake-up for the returned buffer ends it within that bound.
                ep.SendTo(0x600, [9], TimeSpan.FromSeconds(100));
            }
            catch (Exception e)
            {
                sendFailure = e;
            }
            sent.Set();
        });
        var blockedReader = new Reader(queue);
        var reader = blockedReader.Task;
        AwaitHeld(loop, () => !reader.IsCompleted);

        // The holder's next Poll stops as it hands the ring back, until released: meanwhile an application's Poll
        // takes the ring and runs the callback, which then waits for a buffer while the holder waits for that Poll.
        using var holderStopped = new ManualResetEventSlim();
        using var releaseHolder = new ManualResetEventSlim();
        int once = 0;
        loop.Host.Rx.Released = () =>
        {
            if (Environment.CurrentManagedThreadId == blockedReader.Thread && Interlocked.Exchange(ref once, 1) == 0)
            {
                holderStopped.Set();
                releaseHolder.Wait(Bound);
            }
        };
        while (sender.TrySendTo(0x600, [1])) { }
        var poker = loop.Remote.CreateEndpoint(0x601);
        poker.SendTo(0x5FF, [0]); // wakes the holder, which stops in its Poll's hand-back
        Assert.True(holderStopped.Wait(Bound), "the holder never polled");
        long waits = loop.Host.Counters.TxBufferWaits;
        poker.SendTo(0x502, [1]);
        var app = OnThread(() =>
        {
            appThread = Environment.CurrentManagedThreadId;
            return loop.Host.Poll();
        });
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        releaseHolder.Set(); // the holder finds the ring owned by the application's Poll
        loop.Remote.Poll();  // the host's buffers come back, with a kick to the doorbell the holder holds

        Assert.True(sent.Wait(Bound), $"the callback's send was not woken for its buffer ({loop.Host.Rx.HandOver})");
        Assert.Null(sendFailure);
        Assert.True(app.Wait(Bound));
        Assert.False(reader.IsCompleted);
        poker.SendTo(0x500, [4]);
        loop.Remote.Poll();
        Assert.True(reader.Wait(Bound));
        Assert.True(sink.TryReceive(new byte[16], TimeSpan.Zero, out _));
    }

    [Fact]
    public void AfterASenderWaitedForABuffer_TheParkedDispatcherSleepsAgainWhileTheReaderHoldsTheDoorbell()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var sink = loop.Remote.CreateEndpoint(0x600);
        var handOver = loop.Host.Rx.HandOver;
        var reader = OnThread(() => queue.Receive(new byte[16], Timeout.InfiniteTimeSpan));
        AwaitHeld(loop, () => !reader.IsCompleted);
        var sender = loop.Host.CreateEndpoint(0x501);
        var blocked = BlockedSender(loop, sender, 0x600);
        loop.Remote.Poll();
        Assert.True(blocked.Wait(Bound));
        Assert.True(handOver.IsHeldByReader, $"the reader gave the doorbell back with nothing sent to it ({handOver})");
        // Nothing happens from here until the reader's message: the dispatcher must not look every millisecond
        // until then, but sleep until the holder gives the doorbell back.
        loop.WaitUntil(() => handOver.IsLongParked, $"the parked dispatcher sleeps until the reader gives the doorbell back ({handOver})");
        Assert.True(handOver.IsHeldByReader);
        loop.Remote.CreateEndpoint(0x601).SendTo(0x500, [3]);
        loop.Remote.Poll();
        Assert.True(reader.Wait(Bound));
        // The reader's give-back woke the sleeping dispatcher: it takes the doorbell back within its looks.
        loop.WaitUntil(() => !handOver.IsLent, $"the dispatcher took the doorbell back ({handOver})");
    }

    [Fact]
    public void ThreeReaders_ACallback_AnAsyncReader_AndAnApplicationsPolls_EveryMessageArrivesInOrder()
    {
        using var loop = Loop(RpmsgWaitStrategy.Interrupt);
        const int Count = 300, Readers = 3;
        var queues = Enumerable.Range(0, Readers).Select(i => loop.Host.CreateEndpoint((uint)(0x500 + i))).ToArray();
        var asyncQueue = loop.Host.CreateEndpoint(0x510);
        int callbacks = 0, callbackOrder = 0;
        loop.Host.CreateEndpoint(0x520, (_, _, payload) =>
        {
            if (BitConverter.ToInt32(payload) != callbacks)
                Interlocked.Increment(ref callbackOrder);
            Volatile.Write(ref callbacks, callbacks + 1);
        });
        var readers = queues.Select(q => OnThread(() =>
        {
            var buffer = new byte[8];
            for (int i = 0; i < Count; i++)
            {
                q.Receive(buffer, Bound);
                if (BitConverter.ToInt32(buffer) != i)
                    return i;
            }
            return Count;
        })).ToArray();
        var asyncReader = Task.Run(async () =>
        {
            var buffer = new byte[8];
            for (int i = 0; i < Count; i++)
            {
                await asyncQueue.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
                if (BitConverter.ToInt32(buffer) != i)
                    return i;
            }
            return Count;
        });
        using var stopPolling = new CancellationTokenSource();
        var poller = OnThread(() =>
        {
            int polls = 0;
            while (!stopPolling.IsCancellationRequested)
            {
                loop.Host.Poll();
                polls++;
                Thread.Yield();
            }
            return polls;
        });
        var sender = loop.Remote.CreateEndpoint(0x600);
        for (int i = 0; i < Count; i++)
        {
            var payload = BitConverter.GetBytes(i);
            for (int r = 0; r < Readers; r++)
                sender.SendTo((uint)(0x500 + r), payload, Bound);
            sender.SendTo(0x510, payload, Bound);
            sender.SendTo(0x520, payload, Bound);
        }
        Assert.True(Task.WaitAll(readers, Bound), $"readers stuck ({loop.Host.Rx.HandOver})\nhost: {loop.Host.Dump()}");
        Assert.All(readers, r => Assert.Equal(Count, r.Result));
        Assert.True(asyncReader.Wait(Bound));
        Assert.Equal(Count, asyncReader.Result);
        loop.WaitUntil(() => Volatile.Read(ref callbacks) == Count, "every callback ran");
        Assert.Equal(0, callbackOrder);
        stopPolling.Cancel();
        Assert.True(poller.Wait(Bound));
    }

    [Fact]
    public void Stop_ReturnsOnlyOnceTheHoldingReaderLeftTheDoorbell_SoAFreshDeviceCanWaitOnIt()
    {
        using var loop = Loop();
        var bell = (HookedDoorbell)loop.HostBell;
        var queue = loop.Host.CreateEndpoint(0x500);
        var blockedReader = new Reader(queue);
        var reader = blockedReader.Task;
        // Returns once the holder blocks in the doorbell's wait (a Stop meeting it outside the wait tests nothing here).
        AwaitHeld(loop, () => !reader.IsCompleted);
        Assert.True(loop.Host.Rx.HandOver.IsHeldByReader, $"the holder gave the doorbell back with nothing sent to it ({loop.Host.Rx.HandOver})");
        // The holder, its wait ended by Stop, is slow to leave the doorbell (a thread descheduled there). A fresh
        // device over the same doorbell (RpmsgLink.RecoverVdevAsync) starts waiting on it as soon as Stop returned.
        using var leaving = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bell.BeforeWaitEnds = () =>
        {
            if (Environment.CurrentManagedThreadId == blockedReader.Thread && loop.Host.State == RpmsgDeviceState.Stopped)
            {
                leaving.Set();
                release.Wait(TimeSpan.FromSeconds(2));
            }
        };
        loop.Host.Stop("test stops");
        bool waiterAfterStop = bell.HasWaiter;
        release.Set();
        Assert.True(leaving.IsSet, "the holder's doorbell wait did not end with Stop");
        Assert.False(waiterAfterStop, "Stop returned while a reader of the stopped device still waited on the doorbell");
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound));
        Assert.Throws<RpmsgDeviceUnavailableException>(() => reader.GetAwaiter().GetResult());
    }

    [Fact]
    public void AMessageAnApplicationsPollDeliversBeforeTheHoldersRearm_EndsTheHoldersWait()
    {
        using var loop = Loop();
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x601);
        var blockedReader = new Reader(queue);
        var reader = blockedReader.Task;
        AwaitHeld(loop, () => !reader.IsCompleted);
        // Between the holder's look at its queue and its re-arm, its message lands unannounced (notifications were
        // not re-armed since its last wake-up: no kick is due) and an application's Poll delivers it to the queue.
        int once = 0;
        Task<int>? appPoll = null;
        loop.Host.Rx.HandOver.BeforeRearm = () =>
        {
            if (Environment.CurrentManagedThreadId != blockedReader.Thread || Interlocked.Exchange(ref once, 1) != 0)
                return;
            remoteBell.Muted = true;
            peer.SendTo(0x500, [7, 7, 7]);
            remoteBell.Muted = false;
            appPoll = OnThread(() => loop.Host.Poll());
            appPoll.Wait(Bound);
        };
        peer.SendTo(0x5FF, [0]); // wakes the holder, which looks at its queue again
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound),
            $"the holder waits on the doorbell with its message queued ({loop.Host.Rx.HandOver}, hook ran {once}, application's Poll handled {appPoll?.Result})");
        Assert.Equal(3, reader.Result.Length);
        // It delivered the message; the hook may run on a pass from before the poke, whose ring it then takes too.
        Assert.InRange(appPoll!.Result, 1, 2);
    }

    [Fact]
    public void ReadersThatTimeOutAndCancelAgainAndAgain_NeverLeaveTwoWaitersOnTheDoorbell_NorLoseAMessage()
    {
        // Hooked doorbells throw on a second concurrent waiter: on the dispatcher thread that breaks the device.
        using var loop = Loop(RpmsgWaitStrategy.Interrupt);
        const int Count = 200;
        var timed = loop.Host.CreateEndpoint(0x500);
        var cancelled = loop.Host.CreateEndpoint(0x501);
        int received = 0;
        // Takes every message in order, with receives that time out (1 ms) or are cancelled (every other one) meanwhile.
        Task<int> Reader(RpmsgEndpoint ep, bool cancel) => OnThread(() =>
        {
            var buffer = new byte[8];
            int next = 0, attempt = 0;
            var until = DateTime.UtcNow + Bound;
            while (next < Count && DateTime.UtcNow < until)
            {
                using var cts = new CancellationTokenSource();
                if (cancel && (++attempt & 1) == 0)
                    cts.CancelAfter(1);
                try
                {
                    if (!ep.TryReceive(buffer, cancel ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(1), out _, cts.Token))
                        continue;
                }
                catch (OperationCanceledException)
                {
                    continue;
                }
                if (BitConverter.ToInt32(buffer) != next)
                    return -next - 1;
                next++;
                Interlocked.Increment(ref received);
            }
            return next;
        });
        var a = Reader(timed, cancel: false);
        var b = Reader(cancelled, cancel: true);
        var sender = loop.Remote.CreateEndpoint(0x600);
        for (int i = 0; i < Count; i++)
        {
            // One message each, then idle until both came: the readers ask for the doorbell, and get it lent.
            sender.SendTo(0x500, BitConverter.GetBytes(i), Bound);
            sender.SendTo(0x501, BitConverter.GetBytes(i), Bound);
            int expected = 2 * (i + 1);
            loop.WaitUntil(() => Volatile.Read(ref received) == expected || a.IsCompleted || b.IsCompleted, $"message {i} received by both");
        }
        Assert.True(Task.WaitAll([a, b], Bound + Bound));
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
        Assert.Equal(Count, a.Result);
        Assert.Equal(Count, b.Result);
        Assert.True(loop.Host.Rx.HandOver.Takes > 0, "no reader ever waited on the doorbell");
    }
}
