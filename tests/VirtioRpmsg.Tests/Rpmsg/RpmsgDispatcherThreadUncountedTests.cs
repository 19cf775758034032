using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The device's own dispatcher thread runs callbacks and their sends without the locked counts (data gate,
/// callbacks running, tx counter) other threads use: Stop joins that thread, and a destroy fences it with a
/// process-wide barrier. These tests check that the counts are really skipped there, and that Stop and a destroy
/// still wait for what the thread is doing. Threads are ordered with events and doorbell hooks, never with sleeps.
/// </summary>
public class RpmsgDispatcherThreadUncountedTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void GateEnter_OnTheDispatcherThread_IsNotCountedButAnotherDevicesIs()
    {
        using var loop = RpmsgLoopback.Create();
        using var other = RpmsgLoopback.Create();
        int ownInFlight = -1, otherInFlight = -1;
        using var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            loop.Host.Gate.Enter();
            ownInFlight = loop.Host.Gate.InFlight;
            loop.Host.Gate.Exit();
            other.Host.Gate.Enter();
            otherInFlight = other.Host.Gate.InFlight;
            other.Host.Gate.Exit();
            done.Set();
        });
        loop.Remote.CreateEndpoint(0x600).SendTo(0x500, [1]);

        Assert.True(done.Wait(Bound), "the callback did not run");
        Assert.Equal(0, ownInFlight); // Stop joins this thread: no count
        Assert.Equal(1, otherInFlight); // the other device's Stop does not join it
        Assert.Equal(0, other.Host.Gate.InFlight);
    }

    [Fact]
    public void SendFromDispatcherCallback_CountsTxExactly()
    {
        using var loop = RpmsgLoopback.Create();
        const int n = 200;
        int echoed = 0;
        loop.Host.CreateEndpoint(0x500, (ept, src, payload) =>
        {
            ept.SendTo(src, payload);
            Volatile.Write(ref echoed, echoed + 1);
        });
        var remote = loop.Remote.CreateEndpoint(0x600, (_, _, _) => { });
        for (int i = 0; i < n; i++)
            remote.SendTo(0x500, [(byte)i]);
        var app = loop.Host.CreateEndpoint(0x501);
        app.SendTo(0x600, [9]); // an application thread's send: the locked counter

        loop.WaitUntil(() => Volatile.Read(ref echoed) == n, "host echoed every message");
        Assert.Equal(n + 1, loop.Host.Counters.TxMessages);
    }

    [Fact]
    public void Stop_WhileTheDispatcherThreadsCallbackSendIsInsideItsKick_ReturnsOnlyAfterTheSendReturned()
    {
        // The remote sleeps on its doorbell (Interrupt), so the host's send from its callback asks for a kick, and the
        // kick is held inside the send, past the gate's state check, with the ring written.
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.BusyPoll,
            remote: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(60); // once asleep, it stays asleep until kicked
            },
            hookedDoorbells: true);
        var hostBell = (HookedDoorbell)loop.HostBell;
        var remote = loop.Remote.CreateEndpoint(0x600, (_, _, _) => { });
        int inSend = 0, sendReturned = 0;
        loop.Host.CreateEndpoint(0x500, (ept, src, _) =>
        {
            Volatile.Write(ref inSend, 1);
            try
            {
                ept.SendTo(src, [2]);
            }
            finally
            {
                Volatile.Write(ref sendReturned, 1);
            }
        });
        // Stop releases the kick once the state left Running, before it waits for anything.
        loop.Host.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Stopped)
                hostBell.ReleaseHeldRing.Set();
        };
        // The remote's dispatcher sleeps on its doorbell, notifications on. Seen waiting is not enough: a waiter counts from
        // its entry, where it may still drain a ring of the link-up and go back to its loop. A ring with nothing for it
        // returns only once it has taken every ring and blocks.
        Assert.True(((HookedDoorbell)loop.RemoteBell).RingAndWaitUntilIdle(() => loop.HostDoorbell.Ring()), "the remote did not go idle");
        hostBell.HoldNextRing();
        remote.SendTo(0x500, [1]);
        Assert.True(hostBell.InHeldRing.Wait(Bound), "the host's callback send did not kick");
        Assert.Equal(1, Volatile.Read(ref inSend));
        Assert.Equal(0, loop.Host.Gate.InFlight); // not counted: only the join makes Stop wait for it

        int returnedFirst = -1;
        var stop = Task.Run(() =>
        {
            loop.Host.Stop("test");
            returnedFirst = Volatile.Read(ref sendReturned);
        });

        Assert.True(stop.Wait(Bound), "Stop did not return");
        Assert.Equal(1, returnedFirst);
        Assert.Equal(RpmsgDeviceState.Stopped, loop.Host.State);
    }

    [Fact]
    public void Destroy_WhileTheDispatcherThreadRunsItsCallback_ReturnsOnlyAfterTheCallbackReturned()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.BusyPoll);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int returned = 0, calls = 0;
        var ept = loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            Interlocked.Increment(ref calls);
            entered.Set();
            release.Wait(Bound);
            Volatile.Write(ref returned, 1);
        });
        // The destroying thread lets the callback go only once it found the dispatcher inside it.
        ept.WaitingForDispatcherCallback = release.Set;
        var remote = loop.Remote.CreateEndpoint(0x600);
        remote.SendTo(0x500, [1]);
        Assert.True(entered.Wait(Bound), "the callback did not run");

        int returnedFirst = -1;
        var destroy = Task.Run(() =>
        {
            ept.Dispose();
            returnedFirst = Volatile.Read(ref returned);
        });

        Assert.True(destroy.Wait(Bound), "Dispose did not return");
        Assert.True(release.IsSet, "Dispose did not see the dispatcher thread inside the callback");
        Assert.Equal(1, returnedFirst);
        remote.SendTo(0x500, [2]); // dropped: no callback after the destroy returned
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == 2, "second message handled");
        Assert.Equal(1, Volatile.Read(ref calls));
    }
}
