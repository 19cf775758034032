using System.Buffers;
using VirtioRpmsg;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Under Interrupt a reader blocked in Receive waits on the doorbell itself (<see cref="RpmsgDoorbellHandOver"/>):
/// it gets its messages without the dispatcher thread, serves other endpoints meanwhile, and every way out of its
/// wait (message, timeout, cancellation, stop, break) gives the doorbell back so that nothing is left unwatched.
/// </summary>
public class RpmsgDoorbellHandOverTests
{
    // A long idle re-check: a wait that only ends at the re-check would outlast the tests' bounds.
    private static RpmsgLoopback Loop(bool readerWaits = true, Action<RpmsgDeviceOptions>? remote = null, Func<IDoorbell, IDoorbell>? hostDoorbell = null) =>
        RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
                o.ReaderWaitsOnDoorbell = readerWaits;
            },
            remote: remote,
            hostDoorbell: hostDoorbell);

    /// <summary>Starts a reader blocked in Receive and waits until it holds the doorbell.</summary>
    private static Task<RpmsgReceiveResult> BlockedReader(RpmsgLoopback loop, RpmsgEndpoint queue, byte[] buffer, CancellationToken token = default)
    {
        // No timeout of its own: only a message, the token, or the device ending may end this reader.
        var reader = new Reader(queue, buffer, token).Task;
        AwaitHeld(loop, () => !reader.IsCompleted);
        Assert.False(reader.IsCompleted, "the reader returned with nothing sent to it");
        return reader;
    }

    [Fact]
    public void PingPong_EveryMessageReachesTheReaderWaitingOnTheDoorbell()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var handOver = loop.Host.Rx.HandOver;
        const int Count = 50;
        var got = new int[Count];
        int received = 0;
        var reader = OnThread(() =>
        {
            var buffer = new byte[16];
            for (int i = 0; i < Count; i++)
            {
                Assert.Equal(4, queue.Receive(buffer, Bound).Length);
                got[i] = BitConverter.ToInt32(buffer);
                Volatile.Write(ref received, i + 1);
            }
            return true;
        });
        for (int i = 0; i < Count; i++)
        {
            // Sent only while the reader, done with the previous message, waits on the doorbell again.
            loop.WaitUntil(() => Volatile.Read(ref received) == i || reader.IsCompleted, $"message {i} received");
            AwaitHeld(loop, () => !reader.IsCompleted, peer);
            peer.SendTo(0x500, BitConverter.GetBytes(i + 1));
        }
        Assert.True(reader.Wait(Bound));
        Assert.Equal(Enumerable.Range(1, Count), got);
        Assert.True(handOver.Takes >= Count, $"the reader took the doorbell {handOver.Takes} times for {Count} messages");
    }

    [Fact]
    public void HoldingReadersMessage_LandsInItsDestination_NotThroughTheQueue()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        for (byte i = 1; i <= 5; i++)
        {
            var buffer = new byte[16];
            var reader = BlockedReader(loop, queue, buffer);
            peer.SendTo(0x500, [i, i]);
            Assert.True(reader.Wait(Bound));
            Assert.Equal(new RpmsgReceiveResult(0x501, 2), reader.Result);
            Assert.Equal(new byte[] { i, i }, buffer[..2]);
            // Taken by the holder's own poll after the ring, copied from there: the queue never held it.
            Assert.Equal(0, queue.ReceiveQueue!.ChargedIn);
        }
        Assert.False(queue.TryReceive(new byte[16], TimeSpan.Zero, out _));
    }

    [Fact]
    public void OtherEndpointsMessages_AreDeliveredOnTheHoldingReadersThread()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        int callbackThread = 0;
        using var delivered = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (_, _, _) =>
        {
            callbackThread = Environment.CurrentManagedThreadId;
            delivered.Set();
        });
        var buffer = new byte[16];
        int readerThread = 0;
        var reader = OnThread(() =>
        {
            readerThread = Environment.CurrentManagedThreadId;
            return queue.Receive(buffer, Bound);
        });
        var sender = loop.Remote.CreateEndpoint(0x501);
        AwaitHeld(loop, poker: sender);
        sender.SendTo(0x502, [1]);
        Assert.True(delivered.Wait(Bound));
        Assert.Equal(readerThread, callbackThread);
        Assert.False(reader.IsCompleted);
        sender.SendTo(0x500, [7, 7]);
        Assert.True(reader.Wait(Bound));
        Assert.Equal(2, reader.Result.Length);
    }

    [Fact]
    public void Cancellation_EndsTheWait_WithTheCallersToken_AndTheDispatcherTakesTheDoorbellBack()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        using var cts = new CancellationTokenSource();
        var reader = BlockedReader(loop, queue, new byte[16], cts.Token);
        Assert.Contains("wait=Interrupt doorbell held by a reader", loop.Host.Dump());
        cts.Cancel();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => reader.GetAwaiter().GetResult());
        Assert.Equal(cts.Token, e.CancellationToken);
        var handOver = loop.Host.Rx.HandOver;
        loop.WaitUntil(() => handOver.IsHeldByDispatcher, "the dispatcher took the doorbell back");
        // The dispatcher thread delivers again.
        string? thread = null;
        using var delivered = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (_, _, _) =>
        {
            thread = Thread.CurrentThread.Name;
            delivered.Set();
        });
        loop.Remote.CreateEndpoint(0x501).SendTo(0x502, [1]);
        Assert.True(delivered.Wait(Bound));
        Assert.Equal("rpmsg-host", thread);
    }

    [Fact]
    public void Timeout_ReturnsFalse_AndTheDispatcherTakesTheDoorbellBack()
    {
        using var loop = Loop();
        var queue = loop.Host.CreateEndpoint(0x500);
        var handOver = loop.Host.Rx.HandOver;
        var sender = loop.Remote.CreateEndpoint(0x501);
        // A timed receive that holds the doorbell when its time runs out (one that timed out before it was lent the
        // doorbell is retried: that is the timing this test does not control).
        var until = DateTime.UtcNow + Bound;
        while (true)
        {
            var reader = OnThread(() => queue.TryReceive(new byte[16], TimeSpan.FromSeconds(1), out _));
            var spin = new SpinWait();
            while (!handOver.IsHeldByReader && !reader.IsCompleted)
            {
                sender.SendTo(0x5FF, [0]); // lets the dispatcher idle and lend
                spin.SpinOnce(sleep1Threshold: 10);
            }
            bool held = handOver.IsHeldByReader;
            Assert.False(reader.Result);
            if (held)
                break;
            Assert.True(DateTime.UtcNow < until, "no timed receive ever took the doorbell");
        }
        loop.WaitUntil(() => handOver.IsHeldByDispatcher, "the dispatcher took the doorbell back");
    }

    [Fact]
    public void Stop_EndsTheHoldingReadersWait_LongBeforeTheIdleRecheck()
    {
        // A remote that only moves when polled: nothing but the hand-over can end the reader's wait.
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var reader = BlockedReader(loop, queue, new byte[16]);
        loop.Host.Stop("test stops");
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound), "the reader still waits after Stop");
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => reader.GetAwaiter().GetResult());
        Assert.Contains("test stops", e.Message);
    }

    [Fact]
    public void Break_EndsTheHoldingReadersWait_WithTheFault()
    {
        // A remote that only moves when polled: nothing but the hand-over can end the reader's wait.
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var reader = BlockedReader(loop, queue, new byte[16]);
        loop.Host.Break(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "test", 1, "broken by the test"));
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound), "the reader still waits after the break");
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => reader.GetAwaiter().GetResult());
        Assert.Contains("broken by the test", e.Message);
    }

    [Fact]
    public void EndpointDestroyed_EndsTheHoldingReadersWait_AndTheNextReaderTakesTheDoorbellAgain()
    {
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var first = loop.Host.CreateEndpoint(0x500);
        var reader = BlockedReader(loop, first, new byte[16]);
        first.Dispose();
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound), "the reader still waits after its endpoint was destroyed");
        Assert.ThrowsAny<ObjectDisposedException>(() => reader.GetAwaiter().GetResult());
        // The interruption was for that queue only: a reader of another endpoint holds the doorbell and gets its message.
        var second = loop.Host.CreateEndpoint(0x501);
        var buffer = new byte[16];
        var next = BlockedReader(loop, second, buffer);
        loop.Remote.CreateEndpoint(0x601).SendTo(0x501, [5, 6]);
        loop.Remote.Poll();
        Assert.True(next.Wait(Bound));
        Assert.Equal(2, next.Result.Length);
    }

    [Fact]
    public void DoorbellFailing_UnderTheHoldingReader_BreaksTheDevice_AndTheReaderReportsIt()
    {
        FailingDoorbell? bell = null;
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, hostDoorbell: d => bell = new FailingDoorbell(d));
        var queue = loop.Host.CreateEndpoint(0x500);
        var reader = BlockedReader(loop, queue, new byte[16]);
        bell!.Gone = true;
        loop.Remote.CreateEndpoint(0x601).SendTo(0x5FF, [0]); // a ring: the holder's wait returns into the failure
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(Bound), "the reader still waits on a failed doorbell");
        var e = Assert.Throws<RpmsgDeviceUnavailableException>(() => reader.GetAwaiter().GetResult());
        Assert.Contains("gone for the test", e.Message);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Equal(FaultRule.DoorbellClosed, loop.Host.Fault?.Rule); // the peer is gone: not a failure of this side
    }

    [Fact]
    public void SenderWaitingForABuffer_GetsItWhileAReaderHoldsTheDoorbell()
    {
        // The remote polls: host tx buffers come back only when the test polls it.
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var sink = loop.Remote.CreateEndpoint(0x600);
        var reader = BlockedReader(loop, queue, new byte[16]);
        var sender = loop.Host.CreateEndpoint(0x501);
        var blocked = BlockedSender(loop, sender, 0x600);
        loop.Remote.Poll(); // returns the host's buffers and kicks it: the doorbell's holder (or the dispatcher) wakes the sender
        Assert.True(blocked.Wait(Bound));
        Assert.True(blocked.Result);
        Assert.False(reader.IsCompleted);
        loop.Remote.CreateEndpoint(0x601).SendTo(0x500, [3]);
        loop.Remote.Poll();
        Assert.True(reader.Wait(Bound));
        Assert.True(sink.TryReceive(new byte[16], TimeSpan.Zero, out _));
    }

    [Fact]
    public void CallbackOnTheReadersThread_WaitingForABuffer_WaitsOnTheDoorbellItHolds()
    {
        using var loop = Loop(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var sink = loop.Remote.CreateEndpoint(0x600);
        var sender = loop.Host.CreateEndpoint(0x501);
        int callbackThread = 0;
        using var sent = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x502, (ep, _, _) =>
        {
            callbackThread = Environment.CurrentManagedThreadId;
            ep.SendTo(0x600, [9], Bound); // no buffer free: waits for the remote to return one
            sent.Set();
        });
        int readerThread = 0;
        var buffer = new byte[16];
        var reader = OnThread(() =>
        {
            readerThread = Environment.CurrentManagedThreadId;
            return queue.Receive(buffer, Bound);
        });
        var poker = loop.Remote.CreateEndpoint(0x601);
        AwaitHeld(loop, poker: poker);
        while (sender.TrySendTo(0x600, [1])) { }
        long waits = loop.Host.Counters.TxBufferWaits;
        poker.SendTo(0x502, [1]);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        Assert.Equal(readerThread, callbackThread);
        loop.Remote.Poll(); // buffers back, and a kick to the doorbell the callback's thread waits on
        Assert.True(sent.Wait(Bound), "the callback's send never got a buffer");
        poker.SendTo(0x500, [4]);
        loop.Remote.Poll();
        Assert.True(reader.Wait(Bound));
        int received = 0;
        while (sink.TryReceive(new byte[16], TimeSpan.Zero, out var r))
            received += r.Length;
        Assert.True(received > 1);
    }

    [Fact]
    public void TwoReaders_OnTwoEndpoints_EachGetsEveryMessageInOrder()
    {
        using var loop = Loop();
        var a = loop.Host.CreateEndpoint(0x500);
        var b = loop.Host.CreateEndpoint(0x501);
        const int Count = 200;
        Task<int[]> Reader(RpmsgEndpoint ep) => OnThread(() =>
        {
            var got = new int[Count];
            var buffer = new byte[8];
            for (int i = 0; i < Count; i++)
            {
                ep.Receive(buffer, Bound);
                got[i] = BitConverter.ToInt32(buffer);
            }
            return got;
        });
        var ra = Reader(a);
        var rb = Reader(b);
        var sender = loop.Remote.CreateEndpoint(0x600);
        for (int i = 0; i < Count; i++)
        {
            sender.SendTo(0x500, BitConverter.GetBytes(i));
            sender.SendTo(0x501, BitConverter.GetBytes(-i));
        }
        Assert.True(Task.WaitAll([ra, rb], Bound));
        Assert.Equal(Enumerable.Range(0, Count), ra.Result);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => -i), rb.Result);
    }

    [Fact]
    public async Task DuplexPipe_AParkedReadWaitsOnTheDoorbell_AndEndsOnDispose()
    {
        using var loop = Loop();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var handOver = loop.Host.Rx.HandOver;
        handOver.Async.IdleHold = Bound; // a read's receive is async: the async holder waits for it, until the test sends
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        var parked = pipe.Input.ReadAsync().AsTask();
        AwaitHeld(loop, poker: peer);
        int takes = handOver.Takes;
        peer.SendTo(0x500, [1, 2, 3]);
        var read = await parked.WaitAsync(Bound);
        // Off the thread that completed the read: that may be the async holder running the read's continuation inline,
        // and the waits below would then hold it from taking the doorbell again for the next read.
        await Task.Yield();
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Buffer.ToArray());
        pipe.Input.AdvanceTo(read.Buffer.End);
        parked = pipe.Input.ReadAsync().AsTask();
        AwaitHeld(loop, poker: peer);
        Assert.True(handOver.Takes > takes, "the next read did not take the doorbell again");
        // Dispose cancels the read's receive, the last one parked: the holder leaves the doorbell, and the read ends.
        await pipe.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.True((await parked.WaitAsync(Bound)).IsCompleted);
        loop.WaitUntil(() => !handOver.IsHeldByReader, "the holder gave the doorbell back");
    }

    [Fact]
    public void OptionOff_TheReaderNeverTakesTheDoorbell()
    {
        using var loop = Loop(readerWaits: false);
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var handOver = loop.Host.Rx.HandOver;
        for (int i = 0; i < 20; i++)
        {
            var reader = OnThread(() => queue.Receive(new byte[8], Bound));
            sender.SendTo(0x5FF, [0]);
            sender.SendTo(0x500, [1]);
            Assert.True(reader.Wait(Bound));
            Assert.False(handOver.IsHeldByReader);
        }
        Assert.Equal(0, handOver.Takes);
        Assert.True(handOver.IsHeldByDispatcher);
    }
}
