using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The hand-off between the dispatcher thread and a Poll (a spinning queue reader's help, or an application's
/// Poll) that holds the rx ring: the dispatcher sleeps on the doorbell and the Poll looks again when it leaves.
/// A message that arrives after that second look must still wake the dispatcher: nothing may wait for the
/// IdleRecheckInterval (set far beyond the test's bound here, so such a wait fails the test).
/// </summary>
public class RpmsgPollHandOffTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Host 0x600 blocks in its first callback until released (so a Poll that takes it holds the ring);
    /// host 0x601 records what arrives; the remote sends from 0x700.
    /// </summary>
    private sealed class Endpoints : IDisposable
    {
        private int _blocked;

        public Endpoints(RpmsgLoopback loop)
        {
            loop.Host.CreateEndpoint(0x600, (_, _, _) =>
            {
                if (Interlocked.Exchange(ref _blocked, 1) == 0)
                {
                    InCallback.Set();
                    Assert.True(ReleaseCallback.Wait(Bound));
                }
            });
            loop.Host.CreateEndpoint(0x601, (_, _, payload) => Arrivals.Add(payload[0]));
            Sender = loop.Remote.CreateEndpoint(0x700);
        }

        public ManualResetEventSlim InCallback { get; } = new();
        public ManualResetEventSlim ReleaseCallback { get; } = new();
        public BlockingCollection<byte> Arrivals { get; } = new();
        public RpmsgEndpoint Sender { get; }

        public void Dispose()
        {
            InCallback.Dispose();
            ReleaseCallback.Dispose();
            Arrivals.Dispose();
        }
    }

    [Fact]
    public void Dispatcher_PollLeavesAfterDeferral_MessageArrivingThenIsDeliveredWithoutRecheck()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        using var ends = new Endpoints(loop);
        var (inCallback, releaseCallback, arrivals, sender) = (ends.InCallback, ends.ReleaseCallback, ends.Arrivals, ends.Sender);

        // The host dispatcher sleeps (notifications on); the remote's kicks are dropped from here on, so the
        // first message is taken by a Poll, whose callback then holds the ring.
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        remoteBell.Muted = true;
        sender.SendTo(0x600, [1]);
        var poll = Task.Factory.StartNew(() => loop.Host.Poll(), TaskCreationOptions.LongRunning);
        Assert.True(inCallback.Wait(Bound), "the Poll did not take the first message");

        // A kick wakes the dispatcher: it finds the ring held by the Poll and leaves it to it (held in the hook).
        using var hold = new FirstDeferralHold(loop.Host);
        var (deferred, releaseDispatcher) = (hold.Deferred, hold.Release);
        remoteBell.Muted = false;
        sender.SendTo(0x601, [2]);
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the Poll");

        // The Poll handles that message, looks again for the dispatcher, finds nothing and leaves.
        releaseCallback.Set();
        Assert.True(poll.Wait(Bound), "the Poll did not return");
        Assert.True(arrivals.TryTake(out byte second, Bound));
        Assert.Equal(2, second);

        // Only now the next message: nobody holds the ring, so the dispatcher must be woken for it.
        sender.SendTo(0x601, [3]);
        releaseDispatcher.Set();
        Assert.True(arrivals.TryTake(out byte third, Bound), "a message that arrived after the Poll's last look waited for the idle re-check");
        Assert.Equal(3, third);
    }

    [Fact]
    public void Dispatcher_SpinningReadersPollLeavesAfterDeferral_ItReArmsSoTheNextMessageWakesTheDispatcher()
    {
        // As above, but the Poll is a spinning reader's (for a queue endpoint nothing is sent to): its takes leave
        // the event where the dispatcher armed it (RpmsgReaderPollEventTests), so the pass that serves the
        // dispatcher's deferral must re-arm at its last look, or the third message would not kick.
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        using var ends = new Endpoints(loop);
        var (inCallback, releaseCallback, arrivals, sender) = (ends.InCallback, ends.ReleaseCallback, ends.Arrivals, ends.Sender);
        var idle = loop.Host.CreateEndpoint(0x602);

        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        remoteBell.Muted = true;
        sender.SendTo(0x600, [1]);
        var poll = RpmsgLoopback.StartReaderPoll(loop.Host, idle);
        Assert.True(inCallback.Wait(Bound), "the Poll did not take the first message");

        // The second message does not kick (the event is where the dispatcher armed it): ring by hand. The
        // dispatcher finds the ring held by the Poll and leaves it to it (held in the hook).
        using var hold = new FirstDeferralHold(loop.Host);
        var (deferred, releaseDispatcher) = (hold.Deferred, hold.Release);
        remoteBell.Muted = false;
        sender.SendTo(0x601, [2]);
        loop.RemoteDoorbell.Ring();
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to the Poll");

        releaseCallback.Set();
        Assert.True(poll.Wait(Bound), "the Poll did not return");
        Assert.Equal(2, poll.Result);
        Assert.True(arrivals.TryTake(out byte second, Bound));
        Assert.Equal(2, second);

        sender.SendTo(0x601, [3]);
        releaseDispatcher.Set();
        Assert.True(arrivals.TryTake(out byte third, Bound), "the spinning reader's Poll left the event behind its last look: the next message waited for the idle re-check");
        Assert.Equal(3, third);
    }

    [Fact]
    public void Dispatcher_RequestSeenByAPollThatCannotReenter_IsServedByTheOwner()
    {
        // Two Polls (two spinning readers): P leaves the ring, B takes it and has made its last look when a
        // message arrives and the dispatcher leaves the ring to B. P then sees the dispatcher's request but
        // cannot enter (B holds the ring); B's own check on leaving must still see the request.
        StatusHold? hold = null;
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(10),
            hookedDoorbells: true,
            hostControl: c => hold = new StatusHold(c));
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remoteBell = (HookedDoorbell)loop.RemoteBell;
        using var ends = new Endpoints(loop);
        var (inCallback, releaseCallback, arrivals, sender) = (ends.InCallback, ends.ReleaseCallback, ends.Arrivals, ends.Sender);

        // P takes the first message (the remote's kicks dropped) and, once it hands the ring back, is held
        // before it checks for a request.
        int pThread = 0;
        using var pReleased = new ManualResetEventSlim();
        using var releaseP = new ManualResetEventSlim();
        loop.Host.Rx.Released = () =>
        {
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref pThread) && !pReleased.IsSet)
            {
                pReleased.Set();
                releaseP.Wait(Bound);
            }
        };
        Assert.True(hostBell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), "host dispatcher did not go idle");
        remoteBell.Muted = true;
        sender.SendTo(0x600, [1]);
        var p = Task.Factory.StartNew(() =>
        {
            Volatile.Write(ref pThread, Environment.CurrentManagedThreadId);
            loop.Host.Poll();
        }, TaskCreationOptions.LongRunning);
        Assert.True(inCallback.Wait(Bound), "P did not take the first message");
        releaseCallback.Set();
        Assert.True(pReleased.Wait(Bound), "P did not hand the ring back");

        // B takes the ring, finds it empty and is held before it leaves (its last look is done).
        var b = Task.Factory.StartNew(() =>
        {
            hold!.HoldOnce(Environment.CurrentManagedThreadId);
            loop.Host.Poll();
        }, TaskCreationOptions.LongRunning);
        Assert.True(hold!.InHold.Wait(Bound), "B did not reach the end of its look");

        // The next message wakes the dispatcher, which finds the ring held by B and leaves it to it.
        using var deferred = new ManualResetEventSlim();
        loop.Host.Rx.Deferred = deferred.Set;
        remoteBell.Muted = false;
        sender.SendTo(0x601, [2]);
        Assert.True(deferred.Wait(Bound), "the dispatcher did not defer to B");

        // P sees the request but cannot enter; then B leaves.
        releaseP.Set();
        Assert.True(p.Wait(Bound), "P did not return");
        hold.Release.Set();
        Assert.True(b.Wait(Bound), "B did not return");
        Assert.True(arrivals.TryTake(out byte got, Bound), "the dispatcher's request was lost between two Polls: the message waited for the idle re-check");
        Assert.Equal(2, got);
    }

    /// <summary>Holds the dispatcher's first deferral to a Poll (in the <see cref="RpmsgRxDispatcher.Deferred"/> hook) until released.</summary>
    private sealed class FirstDeferralHold : IDisposable
    {
        private int _hooked;

        public FirstDeferralHold(RpmsgDevice device) => device.Rx.Deferred = () =>
        {
            if (Interlocked.Exchange(ref _hooked, 1) == 0)
            {
                Deferred.Set();
                Release.Wait(Bound);
            }
        };

        public ManualResetEventSlim Deferred { get; } = new();
        public ManualResetEventSlim Release { get; } = new();

        public void Dispose()
        {
            Deferred.Dispose();
            Release.Dispose();
        }
    }

    /// <summary>Holds one chosen thread's first read of the status byte (the host reads it at the end of each look at the ring).</summary>
    private sealed class StatusHold(IVdevControl inner) : IVdevControl
    {
        private int _thread = -1;

        public ManualResetEventSlim InHold { get; } = new();
        public ManualResetEventSlim Release { get; } = new();

        public void HoldOnce(int thread) => Volatile.Write(ref _thread, thread);

        public uint DeviceFeatures => inner.DeviceFeatures;

        public uint DriverFeatures
        {
            get => inner.DriverFeatures;
            set => inner.DriverFeatures = value;
        }

        public VirtioStatus Status
        {
            get
            {
                if (Environment.CurrentManagedThreadId == Volatile.Read(ref _thread) && Interlocked.Exchange(ref _thread, -1) != -1)
                {
                    InHold.Set();
                    Release.Wait(Bound);
                }
                return inner.Status;
            }
            set => inner.Status = value;
        }
    }
}
