using System.Buffers.Binary;
using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Many senders, callbacks that send, re-entrant destroy: no loss, no duplicate, no deadlock.</summary>
public class RpmsgConcurrencyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public void Send_EightThreadsWhileCallbackAlsoSends_NoLossNoDuplicateOrderPreserved()
    {
        const int threads = 8;
        const int perThread = 100_000;
        using var loop = RpmsgLoopback.Create();
        // Remote: every message is answered with an ack carrying the same (thread, seq).
        var remote = loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        var lastSeq = new int[threads];
        Array.Fill(lastSeq, -1);
        long acks = 0;
        string? failure = null;
        long callbackSends = 0;
        var host = loop.Host.CreateEndpoint(0x500, (ept, src, payload) =>
        {
            int thread = BinaryPrimitives.ReadInt32LittleEndian(payload);
            int seq = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            if (thread == -1)
                return; // the callback's own traffic, echoed back
            if (seq != lastSeq[thread] + 1)
                failure ??= $"thread {thread}: seq {seq} after {lastSeq[thread]}";
            lastSeq[thread] = seq;
            Interlocked.Increment(ref acks);
            // Sending from inside the receive callback must work alongside the 8 senders.
            if ((seq & 1023) == 0)
            {
                Span<byte> own = stackalloc byte[8];
                BinaryPrimitives.WriteInt32LittleEndian(own, -1);
                ept.SendTo(0x400, own);
                Interlocked.Increment(ref callbackSends);
            }
        });
        var senderErrors = new ConcurrentQueue<Exception>();
        var senders = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            Span<byte> msg = stackalloc byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(msg, t);
            try
            {
                for (int i = 0; i < perThread; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(msg[4..], i);
                    host.SendTo(0x400, msg, Bound);
                }
            }
            catch (Exception e)
            {
                senderErrors.Enqueue(e);
            }
        })).ToList();
        senders.ForEach(s => s.Start());
        foreach (var s in senders)
            Assert.True(s.Join(Bound), "a sender did not finish (deadlock?)");
        Assert.Empty(senderErrors);
        loop.WaitUntil(() => Interlocked.Read(ref acks) == threads * perThread, "all acks", seconds: 120);
        Assert.Null(failure);
        Assert.All(lastSeq, s => Assert.Equal(perThread - 1, s));
        Assert.True(callbackSends > 0);
        Assert.Equal(0, loop.Host.Counters.Dropped);
        Assert.Equal(0, loop.Remote.Counters.Dropped);
    }

    [Fact]
    public void Destroy_FromOwnCallback_DoesNotDeadlockAndStopsDelivery()
    {
        using var loop = RpmsgLoopback.Create();
        int calls = 0;
        var victim = loop.Host.CreateEndpoint(0x600, (ept, _, _) =>
        {
            Interlocked.Increment(ref calls);
            ept.Dispose();
        });
        var sender = loop.Remote.CreateEndpoint(0x601);
        sender.SendTo(0x600, [1]);
        sender.SendTo(0x600, [2]);
        sender.SendTo(0x600, [3]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == 3, "three messages");
        Assert.Equal(1, calls);
        Assert.True(victim.IsDestroyed);
        Assert.Equal(2, loop.Host.Counters.Dropped);
    }

    [Fact]
    public void Destroy_WhileMessagesInFlight_NoCallbackAfterDestroyReturns()
    {
        using var loop = RpmsgLoopback.Create();
        for (int round = 0; round < 50; round++)
        {
            int destroyed = 0;
            int lateCalls = 0;
            var ept = loop.Host.CreateEndpoint(0x700, (_, _, _) =>
            {
                if (Volatile.Read(ref destroyed) != 0)
                    Interlocked.Increment(ref lateCalls);
                Thread.SpinWait(100);
            });
            var sender = loop.Remote.CreateEndpoint(0x701);
            for (int i = 0; i < 100; i++)
                sender.SendTo(0x700, [(byte)i]);
            ept.Dispose();
            Volatile.Write(ref destroyed, 1);
            sender.Dispose();
            long target = (round + 1) * 100L;
            loop.WaitUntil(() => loop.Host.Counters.RxMessages == target, "all delivered or dropped");
            Assert.Equal(0, lateCalls);
        }
    }

    [Fact]
    public void Send_FromCallbackWithAllTxBuffersTaken_TryFailsThenBlockingSucceeds()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var sink = loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        bool? tryResult = null;
        var tried = new ManualResetEventSlim();
        var blockingDone = new ManualResetEventSlim();
        var host = loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            tryResult = ept.TrySendTo(0x400, [1]);
            tried.Set();
            ept.SendTo(0x400, [2], Bound); // blocks until the remote returns buffers
            blockingDone.Set();
        });
        while (host.TrySendTo(0x400, [0]))
        {
        }
        // Trigger the host callback: the remote sends one message (its rx buffers are the host's, still free).
        loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [9]);
        // Not loop.WaitUntil: that would poll the remote, which must stay stalled until the assertions.
        Assert.True(tried.Wait(Bound), "callback did not run");
        Assert.False(tryResult);
        Assert.False(blockingDone.IsSet);
        loop.Remote.Poll(); // the remote consumes and returns the host's tx buffers
        loop.WaitUntil(() => blockingDone.IsSet, "blocking send inside the callback completed");
    }

    /// <summary>
    /// The callback-goes-first set-up: a host callback (0x500) whose send finds every tx buffer taken and waits, on a
    /// remote that moves only when polled and a host that wakes only by its doorbell.
    /// </summary>
    private sealed class CallbackSenderRig : IDisposable
    {
        private readonly ConcurrentQueue<byte> _arrivals = new();
        private readonly ManualResetEventSlim _callbackSent = new();
        private long _waits;

        internal CallbackSenderRig()
        {
            Loop = RpmsgLoopback.Create(
                host: o => o.IdleRecheckInterval = TimeSpan.FromSeconds(60), // the callback wakes only by doorbell
                remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
                hookedDoorbells: true);
            Loop.Remote.CreateEndpoint(0x400, (_, _, payload) => _arrivals.Enqueue(payload[0]));
            Host = Loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
            {
                ept.SendTo(0x400, [1], Bound); // all tx buffers taken: waits
                _callbackSent.Set();
            });
            while (Host.TrySendTo(0x400, [0]))
            {
            }
        }

        internal RpmsgLoopback Loop { get; }

        internal RpmsgEndpoint Host { get; }

        /// <summary>Runs the host callback until its send waits, then has the remote return every tx buffer without waking the host.</summary>
        internal void CallbackWaitsAndBuffersReturnQuietly()
        {
            _waits = Loop.Host.Counters.TxBufferWaits;
            Loop.Remote.CreateEndpoint(0x401).SendTo(0x500, [9]); // runs the host callback
            RpmsgLoopback.WaitForBlockedSenders(Loop.Host, _waits);
            ((HookedDoorbell)Loop.RemoteBell).Muted = true; // the callback sleeps on
            Loop.Remote.Poll();
        }

        /// <summary>The application sender <paramref name="app"/> must wait; once the host is woken, the callback's message arrives first.</summary>
        internal void AssertTheCallbackWentFirst(Task app, string stolen)
        {
            // The application sender either sent at once (the bug) or stepped aside and waits.
            Assert.True(SpinWait.SpinUntil(() => app.IsCompleted || Loop.Host.Counters.TxBufferWaits >= _waits + 2, Bound), "application sender neither sent nor waited");
            Assert.False(app.IsCompleted, stolen);
            ((HookedDoorbell)Loop.RemoteBell).Muted = false;
            Loop.RemoteBell.Ring();
            Assert.True(_callbackSent.Wait(Bound), "callback send did not complete");
            Assert.True(app.Wait(Bound), "application sender was not woken after the callback sent");
            Loop.WaitUntil(() => _arrivals.Count(b => b != 0) == 2, "both sends arrived");
            Assert.Equal([1, 2], _arrivals.Where(b => b != 0).ToArray());
        }

        public void Dispose()
        {
            Loop.Dispose();
            _callbackSent.Dispose();
        }
    }

    [Fact]
    public void Send_CallbackWaitingForTxBuffer_GetsTheFreedBufferBeforeApplicationSenders()
    {
        // The CI failure this guards against: eight application senders won every returned buffer while
        // the host's callback waited, until both sides' parking backlogs filled and the two dispatchers
        // waited on each other for the whole send timeout. A callback sender must go first.
        using var rig = new CallbackSenderRig();
        rig.CallbackWaitsAndBuffersReturnQuietly();
        var app = Task.Run(() => rig.Host.SendTo(0x400, [2], Bound));
        rig.AssertTheCallbackWentFirst(app, "an application sender took a freed buffer while a callback sender waited for one");
    }

    [Fact]
    public void Send_ApplicationSenderPastItsCheck_StillLeavesBuffersFreedAfterTheCallbackBeganWaiting()
    {
        // The second CI failure of Send_EightThreadsWhileCallbackAlsoSends: an application sender looked at the
        // callback waiters (none yet), was preempted before its take, and took a buffer freed after the callback
        // sender began waiting. With eight such senders the callback can lose every buffer the peer's last
        // free backlog slots let go, and both dispatchers wait on each other again. The look must be the take's.
        using var rig = new CallbackSenderRig();
        using var checkedIn = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        rig.Loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            rig.Loop.Host.Tx.ApplicationTakeChecked = null; // this sender only
            checkedIn.Set();
            release.Wait(Bound);
        };
        var app = Task.Run(() => rig.Host.SendTo(0x400, [2], Bound));
        Assert.True(checkedIn.Wait(Bound), "application sender did not reach its take");
        rig.CallbackWaitsAndBuffersReturnQuietly();
        release.Set(); // the application sender goes on to its take
        rig.AssertTheCallbackWentFirst(app, "an application sender took a buffer freed after a callback sender began waiting");
    }

    [Fact]
    public void Dispose_WhileNameServiceMessagesInFlight_DoesNotDeadlock()
    {
        for (int round = 0; round < 20; round++)
        {
            var loop = RpmsgLoopback.Create();
            var announcers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                for (int i = 0; i < 50; i++)
                {
                    try
                    {
                        using var e = loop.Remote.CreateNamedEndpoint($"svc-{t}-{i}", RpmsgAddress.Any, (_, _, _) => { });
                    }
                    catch (RpmsgDeviceUnavailableException)
                    {
                        return;
                    }
                }
            })).ToArray();
            var dispose = Task.Run(() =>
            {
                loop.Remote.Dispose();
                loop.Host.Dispose();
            });
            Assert.True(dispose.Wait(Bound), "device dispose deadlocked");
            Assert.True(Task.WaitAll(announcers, Bound), "an announcer deadlocked");
            Assert.Equal(RpmsgDeviceState.Stopped, loop.Remote.State);
            loop.Dispose();
        }
    }

    [Fact]
    public void Stop_WakesBlockedSendersWithDocumentedException()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var host = loop.Host.CreateEndpoint(0x500);
        while (host.TrySendTo(0x400, [0]))
        {
        }
        long waits = loop.Host.Counters.TxBufferWaits;
        var blocked = Enumerable.Range(0, 4).Select(_ => Task.Run(() => host.SendTo(0x400, [1], Bound))).ToArray();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits, count: 4);
        Assert.DoesNotContain(blocked, t => t.IsCompleted);
        loop.Host.Stop("remote not running");
        foreach (var t in blocked)
        {
            var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => t.GetAwaiter().GetResult());
            Assert.Equal(RpmsgDeviceState.Stopped, ex.State);
        }
        Assert.Throws<RpmsgDeviceUnavailableException>(() => host.TrySendTo(0x400, [1]));
    }

    [Fact]
    public void Callback_Throws_IsCountedAndDispatchContinues()
    {
        using var loop = RpmsgLoopback.Create();
        var got = new ConcurrentQueue<byte>();
        loop.Host.CreateEndpoint(0x500, (_, _, payload) =>
        {
            if (payload[0] == 0)
                throw new InvalidOperationException("boom");
            got.Enqueue(payload[0]);
        });
        var sender = loop.Remote.CreateEndpoint(0x501);
        sender.SendTo(0x500, [0]);
        sender.SendTo(0x500, [1]);
        loop.WaitUntil(() => got.Count == 1, "second message");
        Assert.Equal(1, loop.Host.Counters.CallbackErrors);
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
    }
}
