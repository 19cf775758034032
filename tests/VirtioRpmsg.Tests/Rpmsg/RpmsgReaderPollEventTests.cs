using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A spinning reader polls the rx ring beside a dispatcher thread asleep on the doorbell with notifications on (it
/// went idle before the reader came). With EVENT_IDX the reader's takes leave the event where the dispatcher armed
/// it: the peer kicks once, for the first message, not for every one (a system call on its side and a wake-up of
/// the dispatcher in each round trip). A plain Poll moves the event along, as Linux's virtqueue_get_buf does: it
/// has no sleeper beside it to count on. Both roles; the dispatcher is kept asleep (its kicks muted, counted).
/// The rest (found by a review of the change): where someone counts on the takes moving the event, they still do, or
/// the event is re-armed: a plain Poll serving the dispatcher's deferral, parking inside a reader's pass (also when
/// its first park finds nothing), and the serving pass's re-arm once the device broke.
/// </summary>
public class RpmsgReaderPollEventTests
{
    private const int Messages = 10;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true, true, 1)]
    [InlineData(true, false, Messages)]
    [InlineData(false, true, 1)]
    [InlineData(false, false, Messages)]
    public void PollsBesideASleepingDispatcher_PeerKicks(bool readerOnHost, bool spinningReader, int expectedKicks)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            remote: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            deviceFeatures: RpmsgFeatures.NameService | VirtioFeatures.EventIndex,
            hookedDoorbells: true);
        var (readerDevice, peerDevice) = readerOnHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        var readerBell = (HookedDoorbell)(readerOnHost ? loop.HostBell : loop.RemoteBell);
        var peerBell = (HookedDoorbell)(readerOnHost ? loop.RemoteBell : loop.HostBell);
        var peerInner = readerOnHost ? loop.RemoteDoorbell : loop.HostDoorbell;
        var reader = readerDevice.CreateEndpoint(0x500);
        var sender = peerDevice.CreateEndpoint(0x501);

        // The reader's dispatcher has armed the event and sleeps; the peer's kicks are counted, not delivered.
        Assert.True(readerBell.RingAndWaitUntilIdle(() => peerInner.Ring()), "the reader's dispatcher did not go idle");
        peerBell.Muted = true;
        int before = peerBell.Rings;

        var destination = new byte[8];
        for (byte i = 1; i <= Messages; i++)
        {
            Assert.True(sender.TrySendTo(0x500, [i]));
            if (spinningReader)
            {
                var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, destination);
                Assert.Equal(1, readerDevice.Rx.Poll(ref direct));
                Assert.True(direct.Done);
            }
            else
            {
                Assert.Equal(1, readerDevice.Poll());
                Assert.Equal(1, reader.Receive(destination, TimeSpan.Zero).Length);
            }
            Assert.Equal(i, destination[0]);
        }
        Assert.Equal(expectedKicks, peerBell.Rings - before);
    }

    // The dispatcher defers to a spinning reader's pass (event armed at the reader's position then); the pass takes on
    // without following; an application's plain Poll (documented: "extra polling in any mode") takes the ring between the
    // reader's exit and its look at the request, clears the request and takes nothing, so nothing re-arms the event.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PlainPollServesTheDeferral_AfterAReadersPassTookPastTheEvent_NextMessageWakesTheDispatcher(bool readerOnHost)
    {
        Action<RpmsgDeviceOptions> slow = o => { o.IdleRecheckInterval = TimeSpan.FromMinutes(10); o.WaitStrategy = RpmsgWaitStrategy.Hybrid; };
        using var loop = RpmsgLoopback.Create(host: slow, remote: slow, hookedDoorbells: true);
        var (readerDevice, peerDevice) = readerOnHost ? (loop.Host, loop.Remote) : (loop.Remote, loop.Host);
        var readerBell = (HookedDoorbell)(readerOnHost ? loop.HostBell : loop.RemoteBell);
        var peerBell = (HookedDoorbell)(readerOnHost ? loop.RemoteBell : loop.HostBell);
        var peerInner = readerOnHost ? loop.RemoteDoorbell : loop.HostDoorbell;

        using var inCallback = new ManualResetEventSlim();
        using var releaseCallback = new ManualResetEventSlim();
        using var arrivals = new BlockingCollection<byte>();
        int blocked = 0;
        readerDevice.CreateEndpoint(0x600, (_, _, _) =>
        {
            if (Interlocked.Exchange(ref blocked, 1) == 0)
            {
                inCallback.Set();
                Assert.True(releaseCallback.Wait(Bound));
            }
        });
        readerDevice.CreateEndpoint(0x601, (_, _, p) => arrivals.Add(p[0]));
        var idle = readerDevice.CreateEndpoint(0x602); // the spinning reader's queue: nothing is sent to it
        var sender = peerDevice.CreateEndpoint(0x700);

        Assert.True(readerBell.RingAndWaitUntilIdle(() => peerInner.Ring()), "dispatcher did not go idle");
        peerBell.Muted = true;
        sender.SendTo(0x600, [1]);
        int readerThread = 0;
        int plainPolled = -1;
        readerDevice.Rx.Released = () =>
        {
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref readerThread) && Interlocked.CompareExchange(ref plainPolled, -2, -1) == -1)
                Volatile.Write(ref plainPolled, Task.Run(() => readerDevice.Poll()).Result);
        };
        var reader = RpmsgLoopback.StartReaderPoll(readerDevice, idle, () => Volatile.Write(ref readerThread, Environment.CurrentManagedThreadId));
        Assert.True(inCallback.Wait(Bound), "the reader's pass did not take the first message");

        using var deferred = new ManualResetEventSlim();
        readerDevice.Rx.Deferred = deferred.Set;
        peerBell.Muted = false;
        sender.SendTo(0x601, [2]);
        peerInner.Ring(); // the kick the first message drew (muted above), delivered late
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the reader's pass");

        releaseCallback.Set();
        Assert.True(reader.Wait(Bound), "the reader's Poll did not return");
        Assert.Equal(2, reader.Result);
        Assert.Equal(0, Volatile.Read(ref plainPolled)); // it served the request and took nothing
        Assert.True(arrivals.TryTake(out byte second, Bound));
        Assert.Equal(2, second);

        sender.SendTo(0x601, [3]);
        Assert.True(arrivals.TryTake(out byte third, Bound), "stall: the event was left behind the last take; the message waits for IdleRecheckInterval");
        Assert.Equal(3, third);
    }

    // A callback in a spinning reader's Poll waits for a tx buffer; it parks what arrives each time the dispatcher
    // (deferred, kicks on) signals it on a ring. Its ParkPending takes no longer follow the event, so after the first
    // park the peer's messages draw no kick: a peer that needs its buffers back (a flood larger than the ring) stalls.
    [Fact]
    public void CallbackSenderInASpinningReadersPoll_PeerFloodLargerThanTheRing_IsParkedWithoutTheIdleRecheck()
    {
        const int Flood = 40; // > 16 host rx buffers + a first park of at most 16, < 16 + 32 fixed parking slots
        using var loop = RpmsgLoopback.Create(
            host: o => { o.IdleRecheckInterval = TimeSpan.FromMinutes(10); o.WaitStrategy = RpmsgWaitStrategy.Hybrid; },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll, // never returns the host's tx buffers
            vringNum: 16,
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        loop.Remote.CreateEndpoint(0x400);
        loop.Host.CreateEndpoint(0x501);
        var idle = loop.Host.CreateEndpoint(0x602);
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, _) => ept.SendTo(0x400, [1], Bound));
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");

        remoteBell.Muted = true;
        long waits = loop.Host.Counters.TxBufferWaits;
        source.SendTo(0x500, [9]);
        var reader = RpmsgLoopback.StartReaderPoll(loop.Host, idle);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);

        using var deferred = new ManualResetEventSlim();
        loop.Host.Rx.Deferred = deferred.Set;
        remoteBell.Muted = false;
        loop.RemoteDoorbell.Ring(); // the trigger's kick, delivered late: the dispatcher defers (kicks on, event at the ring's end)
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the reader's pass");

        long rx = loop.Host.Counters.RxMessages;
        var flood = Task.Run(() =>
        {
            for (int i = 0; i < Flood; i++)
                source.SendTo(0x501, [(byte)i], Bound);
        });
        bool done = SpinWait.SpinUntil(() => flood.IsCompleted, Bound);
        long parked = loop.Host.Counters.RxMessages - rx;
        Task.Run(() => loop.Remote.Poll()).Wait(Bound); // the host's tx buffers back: the callback's send ends
        reader.Wait(Bound);
        Assert.True(done && flood.IsCompletedSuccessfully, $"stall: the peer's flood waited for its buffers ({parked} of {Flood} parked)");
    }

    // The pass serving a deferral ends with "while (!Enable()) ProcessPending()". ProcessPending takes nothing once the
    // device is no longer Running, so with a message left in the ring the loop never ends: the reader's Poll spins for
    // ever inside the data gate, and Stop (Gate.WaitForDrain) would wait for it for ever. Here a callback of that pass
    // breaks the device (a fault, or the peer's status change seen by CheckStatus, does the same) with a batch's worth
    // of messages behind it.
    [Fact]
    public void ServingPass_DeviceBreaksWithMessagesLeftInTheRing_PollReturns()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => { o.IdleRecheckInterval = TimeSpan.FromMinutes(10); o.WaitStrategy = RpmsgWaitStrategy.Hybrid; },
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        using var inCallback = new ManualResetEventSlim();
        using var releaseCallback = new ManualResetEventSlim();
        int blocked = 0;
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            if (Interlocked.Exchange(ref blocked, 1) == 0)
            {
                inCallback.Set();
                Assert.True(releaseCallback.Wait(Bound));
            }
        });
        loop.Host.CreateEndpoint(0x601, (_, _, _) => { });
        loop.Host.CreateEndpoint(0x603, (_, _, _) =>
            loop.Host.Break(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "test", 0, "broken inside the serving pass")));
        var idle = loop.Host.CreateEndpoint(0x602);
        var sender = loop.Remote.CreateEndpoint(0x700);

        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        remoteBell.Muted = true;
        sender.SendTo(0x600, [1]);
        int readerThread = 0;
        int hooked = 0;
        loop.Host.Rx.Released = () =>
        {
            // Between the reader's first pass and its look at the request: the breaking message, then more than a batch.
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref readerThread) && Interlocked.Exchange(ref hooked, 1) == 0)
            {
                sender.SendTo(0x603, [0]);
                for (int i = 0; i < 20; i++)
                    sender.SendTo(0x601, [(byte)i]);
            }
        };
        var reader = RpmsgLoopback.StartReaderPoll(loop.Host, idle, () => Volatile.Write(ref readerThread, Environment.CurrentManagedThreadId));
        Assert.True(inCallback.Wait(Bound), "the reader's pass did not take the first message");

        using var deferred = new ManualResetEventSlim();
        loop.Host.Rx.Deferred = deferred.Set;
        loop.RemoteDoorbell.Ring(); // the dispatcher wakes, finds the ring the reader's and defers (request raised)
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the reader's pass");
        releaseCallback.Set();

        bool returned = reader.Wait(TimeSpan.FromSeconds(10));
        if (!returned)
        {
            // Rescue, so the loop can be disposed: Running again lets the spinning pass drain the ring and leave.
            typeof(RpmsgDevice).GetField("_state", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
                .SetValue(loop.Host, RpmsgDeviceState.Running);
            Assert.True(reader.Wait(Bound), "not even rescued");
        }
        Assert.True(returned, "the serving pass's re-arm loop spun with the device broken and a message in the ring (Stop would hang)");
    }

    // The dispatcher defers to a reader's pass while a message for a sending callback is pending (Enable at that
    // message, unchecked). The pass then takes it WITHOUT following, and its callback waits for a tx buffer. The
    // sender's first ParkPending finds the ring empty, so it takes nothing and does not move the event: it stays
    // one behind the ring's position, the peer's next messages draw no kick, the dispatcher (asleep for
    // IdleRecheckInterval) never signals the sender, nothing is parked, and a peer that needs its rx buffers back
    // before it returns ours (here: a flood larger than the ring, a CallerPoll remote) waits for the send timeout.
    // At 3844b46 the take of that message moved the event, so the flood's first message kicked.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReaderPassTakesPastTheDeferralsEvent_ThenItsCallbackSenderWaits_PeerFloodIsParked(bool readerOnHost)
    {
        const int Flood = 40;
        Action<RpmsgDeviceOptions> reading = o => { o.IdleRecheckInterval = TimeSpan.FromMinutes(10); o.WaitStrategy = RpmsgWaitStrategy.Hybrid; };
        Action<RpmsgDeviceOptions> peer = o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; // never returns the reader's tx buffers
        using var all = RpmsgLoopback.Create(
            host: readerOnHost ? reading : peer,
            remote: readerOnHost ? peer : reading,
            vringNum: 16,
            hookedDoorbells: true);
        var loop = new Sides(all, readerOnHost);
        var hostBell = loop.HostBell;
        var remoteBell = loop.RemoteBell;
        using var inCallback = new ManualResetEventSlim();
        using var releaseCallback = new ManualResetEventSlim();
        int first = 0;
        loop.Remote.CreateEndpoint(0x400);
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            if (Interlocked.Exchange(ref first, 1) == 0)
            {
                inCallback.Set();
                Assert.True(releaseCallback.Wait(Bound));
            }
        });
        loop.Host.CreateEndpoint(0x501);
        var idle = loop.Host.CreateEndpoint(0x602);
        var blocked = loop.Host.CreateEndpoint(0x500, (ept, _, _) => ept.SendTo(0x400, [1], TimeSpan.FromSeconds(90)));
        while (blocked.TrySendTo(0x400, [0]))
        {
        }
        var source = loop.Remote.CreateEndpoint(0x401);
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");

        // M0: taken by the reader's pass, whose callback then holds the ring.
        remoteBell.Muted = true;
        source.SendTo(0x600, [1]);
        var reader = RpmsgLoopback.StartReaderPoll(loop.Host, idle);
        Assert.True(inCallback.Wait(Bound), "the reader's pass did not take the first message");

        // M1 (for the sending callback) lands; the late kick wakes the dispatcher, which defers: Enable at M1.
        source.SendTo(0x500, [2]);
        using var deferred = new ManualResetEventSlim();
        loop.Host.Rx.Deferred = deferred.Set;
        remoteBell.Muted = false;
        loop.RemoteDoorbell.Ring();
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the reader's pass");
        loop.Host.Rx.Deferred = null;

        // The pass takes M1 without following; its callback's send waits for a tx buffer (parks nothing: ring empty).
        long waits = loop.Host.Counters.TxBufferWaits;
        releaseCallback.Set();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        // Past its first park (which found the ring empty): asleep on the tx signal.
        Assert.True(SpinWait.SpinUntil(() => loop.Host.Tx.SignalSleepers == 1, Bound), "the callback's sender did not sleep on the signal");

        long rx = loop.Host.Counters.RxMessages;
        var flood = Task.Run(() =>
        {
            for (int i = 0; i < Flood; i++)
                source.SendTo(0x501, [(byte)i], Bound);
        });
        bool done = SpinWait.SpinUntil(() => flood.IsCompleted, TimeSpan.FromSeconds(15));
        long parked = loop.Host.Counters.RxMessages - rx;
        Task.Run(() => loop.Remote.Poll()).Wait(Bound); // the host's tx buffers back: the callback's send ends
        reader.Wait(Bound);
        flood.Wait(Bound);
        Assert.True(done && flood.IsCompletedSuccessfully, $"stall: the peer's flood waited for its buffers ({parked} of {Flood} taken); host rings seen by the remote {remoteBell.Rings}");
    }

    // "Host" is the reading side, "Remote" its peer, whichever role each has.
    private sealed class Sides(RpmsgLoopback loop, bool readerOnHost)
    {
        public RpmsgDevice Host => readerOnHost ? loop.Host : loop.Remote;
        public RpmsgDevice Remote => readerOnHost ? loop.Remote : loop.Host;
        public HookedDoorbell HostBell => (HookedDoorbell)(readerOnHost ? loop.HostBell : loop.RemoteBell);
        public HookedDoorbell RemoteBell => (HookedDoorbell)(readerOnHost ? loop.RemoteBell : loop.HostBell);
        public VirtioRpmsg.Platform.LoopbackDoorbell RemoteDoorbell => readerOnHost ? loop.RemoteDoorbell : loop.HostDoorbell;
    }
}
