using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A remote's dispatcher thread at link-up: it announces the services outside any dispatch pass, so with more of them
/// than the host has rx buffers that send waits like a callback's, and a Poll on an application thread may hold the rx
/// ring, or complete the link-up itself, meanwhile. The host polls only when the test says (CallerPoll).
/// </summary>
public class RpmsgRemoteLinkUpTests
{
    private const int VringNum = 16;
    private const int Services = VringNum + 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static RpmsgLoopback Create(TimeSpan? remoteRecheck = null, string remoteName = "remote")
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o =>
            {
                o.Name = remoteName;
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                if (remoteRecheck is { } recheck)
                    o.IdleRecheckInterval = recheck;
            },
            vringNum: VringNum, start: false);
        for (int i = 0; i < Services; i++)
            loop.Remote.CreateNamedEndpoint($"svc-{i}", RpmsgAddress.Any, (_, _, _) => { });
        return loop;
    }

    // An application thread polling the remote while the condition holds (at most the bound). A failed assertion
    // disposes the loop under it: a Poll that then finds the device stopped ends the thread, it does not crash the run.
    private static Thread Poller(RpmsgLoopback loop, Func<bool> whilst)
    {
        return new Thread(() =>
        {
            var until = DateTime.UtcNow + Bound;
            try
            {
                while (whilst() && DateTime.UtcNow < until)
                    loop.Remote.Poll();
            }
            catch (RpmsgDeviceUnavailableException)
            {
            }
        }) { IsBackground = true };
    }

    [Fact]
    public void LinkUp_AnnouncementsBeyondTheRemotesTxRing_ParkOnlyWhileOwningTheRxRing()
    {
        using var loop = Create();
        var rx = loop.Remote.Rx;
        int parked = 0, unowned = 0;
        rx.Parking = () =>
        {
            Interlocked.Increment(ref parked);
            if (!rx.Owner.IsHeldByCurrentThread)
                Interlocked.Increment(ref unowned);
        };
        loop.Remote.Start();
        loop.Host.Start();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref parked) > 0, Bound), "the announcement did not wait for a tx buffer");

        loop.WaitUntil(() => loop.Host.Counters.RxMessages == Services, "every announcement");
        Assert.Equal(0, Volatile.Read(ref unowned));
    }

    [Fact]
    public void LinkUp_AnnouncementWaitingWhileAPollHoldsTheRing_WaitsInsteadOfSpinning()
    {
        // Its own name: the CPU measured below is this device's dispatcher thread's, not another test's "rpmsg-remote".
        using var loop = Create(remoteName: "linkup-wait");
        using var release = new ManualResetEventSlim();
        int inBlocker = 0;
        var blocker = loop.Remote.CreateEndpoint(RpmsgAddress.Any, (_, _, _) =>
        {
            Volatile.Write(ref inBlocker, 1);
            release.Wait(Bound);
        });
        int parked = 0;
        loop.Remote.Rx.Parking = () => Interlocked.Increment(ref parked);
        loop.Remote.Start();
        loop.Host.Start();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref parked) > 0, Bound), "the announcement did not wait for a tx buffer");
        var host = loop.Host.CreateEndpoint();
        // The first message is parked by the waiting announcement; a Poll delivers it, and its callback blocks holding the ring.
        host.SendTo(blocker.Address, [1]);
        var poller = Poller(loop, () => Volatile.Read(ref inBlocker) == 0);
        poller.Start();
        try
        {
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref inBlocker) == 1, Bound), "the Poll did not reach the blocking callback");
            // The second waits in the ring the Poll holds: the announcement's send must not re-try in a loop meanwhile.
            host.SendTo(blocker.Address, [2]);
            Assert.True(SpinWait.SpinUntil(() => loop.Remote.Transport!.RxPending, Bound), "the second message did not arrive");
            var cpu = ThreadCpu.Measure("rpmsg-linkup-wait", TimeSpan.FromMilliseconds(500));
            Assert.True(cpu < TimeSpan.FromMilliseconds(100), $"the waiting announcement used {cpu.TotalMilliseconds} ms of CPU in 500 ms");
        }
        finally
        {
            release.Set();
            poller.Join();
        }
        loop.WaitUntil(() => loop.Host.Counters.RxMessages == Services, "every announcement");
    }

    [Fact]
    public void LinkUp_CompletedByAPoll_TheDispatcherThreadServesTheRingsAfterwards()
    {
        using var loop = Create(remoteRecheck: TimeSpan.FromMilliseconds(300));
        int deferred = 0;
        loop.Remote.Rx.Deferred = () => Interlocked.Increment(ref deferred);
        int delivered = 0;
        var target = loop.Remote.CreateEndpoint(RpmsgAddress.Any, (_, _, _) => Interlocked.Increment(ref delivered));
        Thread? linker = null;
        loop.Remote.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Running)
                Volatile.Write(ref linker, Thread.CurrentThread);
        };
        loop.Remote.Start();
        // Completes the link-up when it wins the race, then announces, waiting for rx buffers.
        var poller = Poller(loop, () => loop.Remote.State == RpmsgDeviceState.Starting);
        poller.Start();
        loop.Host.Start();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref linker) is not null, Bound), "the link did not come up");
        if (ReferenceEquals(Volatile.Read(ref linker), poller))
        {
            // The Poll announces, waiting, and holds the ring; the dispatcher thread looks again within its recheck:
            // it must go on to its loop (which leaves the ring to the Poll), not end.
            Assert.True(SpinWait.SpinUntil(() => !loop.Remote.DispatcherThreadAlive || Volatile.Read(ref deferred) > 0, Bound),
                "the dispatcher thread neither ended nor reached its loop");
            Assert.True(loop.Remote.DispatcherThreadAlive, "the remote's dispatcher thread ended because a Poll completed the link-up");
        }

        loop.WaitUntil(() => loop.Host.Counters.RxMessages == Services, "every announcement");
        poller.Join();
        loop.Host.CreateEndpoint().SendTo(target.Address, [1]);
        loop.WaitUntil(() => Volatile.Read(ref delivered) == 1, "the message, delivered by the remote's dispatcher thread (nobody polls it now)");
    }
}
