using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes2): a channel endpoint the peer's DESTROY removed keeps its unread messages for its reader, but not the
/// device's queue budget against everyone else. A hostile remote that announces a service, fills its channel and
/// withdraws it, in a loop, must not starve the device's other endpoints (seed 004: the remote may be hostile).
/// </summary>
public sealed class RpmsgPeerDestroyBudgetTests
{
    private const long Budget = ushort.MaxValue + 64L; // the smallest allowed: one largest message
    private const int Payload = 400;
    private static readonly long Cost = Payload + RpmsgQueueBudget.PerMessageOverhead;

    private static RpmsgLoopback Loop(List<RpmsgChannel> probed)
    {
        var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.MaxQueuedBytes = Budget; },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        // An application that keeps its channels but does not read them (yet), and sets no Remove.
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-churn") { Probe = ch => { lock (probed) probed.Add(ch); } });
        return loop;
    }

    // The remote announces the service, sends `messages` on it, and withdraws it (DESTROY).
    private static RpmsgChannel Churn(RpmsgLoopback loop, List<RpmsgChannel> probed, int messages)
    {
        int before;
        lock (probed)
            before = probed.Count;
        var service = loop.Remote.CreateNamedEndpoint("svc-churn", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => { lock (probed) return probed.Count > before; }, "the channel is probed");
        RpmsgChannel channel;
        lock (probed)
            channel = probed[^1];
        long rx = loop.Host.Counters.RxMessages;
        for (int i = 0; i < messages; i++)
            service.SendTo(channel.LocalAddress, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= rx + messages, "the messages are dispatched");
        service.Dispose();
        loop.WaitUntil(() => channel.Endpoint.IsDestroyed, "the peer's DESTROY destroyed the channel's endpoint");
        return channel;
    }

    private static void SendFromRemote(RpmsgLoopback loop, uint destination, int count)
    {
        var sender = loop.Remote.Endpoints.FirstOrDefault(e => e.Address == 0x600) ?? loop.Remote.CreateEndpoint(0x600);
        long before = loop.Host.Counters.RxMessages;
        for (int i = 0; i < count; i++)
            sender.SendTo(destination, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= before + count, $"{count} messages dispatched");
    }

    [Fact]
    public void PeerCreatesFillsAndDestroysChannelsInALoop_LiveEndpointStillQueues()
    {
        var probed = new List<RpmsgChannel>();
        using var loop = Loop(probed);
        var live = loop.Host.CreateEndpoint(0x500);
        int fits = (int)(Budget / Cost);
        for (int round = 0; round < 4; round++)
            Churn(loop, probed, messages: fits / 3);

        SendFromRemote(loop, 0x500, 5);

        Assert.Equal(0, live.QueueDrops);
        var buffer = new byte[Payload];
        for (int i = 0; i < 5; i++)
            Assert.True(live.TryReceive(buffer, TimeSpan.Zero, out _), $"message {i} of the live endpoint was dropped");
    }

    [Fact]
    public void PeerDestroyedChannel_ReadableWhileNothingNeedsItsBudget_ReclaimedOldestFirstWhenALiveEndpointDoes()
    {
        var probed = new List<RpmsgChannel>();
        using var loop = Loop(probed);
        var live = loop.Host.CreateEndpoint(0x500);
        int fits = (int)(Budget / Cost);
        var oldest = Churn(loop, probed, messages: fits / 2);
        var newest = Churn(loop, probed, messages: fits / 2);
        Assert.Equal(2 * (fits / 2) * Cost, loop.Host.QueueBudget.Used); // both kept while the budget allows

        SendFromRemote(loop, 0x500, fits - 2 * (fits / 2) + 1); // one more than the budget has left

        Assert.Equal(0, live.QueueDrops);
        // The oldest withdrawn channel gave its budget back (its messages counted as drops); its reader sees the end.
        Assert.Equal(fits / 2, oldest.Endpoint.QueueDrops);
        var buffer = new byte[Payload];
        Assert.Throws<ObjectDisposedException>(() => oldest.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));
        // The newer one is untouched and still read to its end.
        Assert.Equal(0, newest.Endpoint.QueueDrops);
        for (int i = 0; i < fits / 2; i++)
            Assert.True(newest.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _), $"message {i} of the newer withdrawn channel");
        Assert.Throws<ObjectDisposedException>(() => newest.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));
    }

    [Fact]
    public void PeerDestroyedChannel_ReadToItsEnd_OrDisposed_HoldsNoBudget()
    {
        var probed = new List<RpmsgChannel>();
        using var loop = Loop(probed);
        var read = Churn(loop, probed, messages: 3);
        var disposed = Churn(loop, probed, messages: 2);
        var buffer = new byte[Payload];
        for (int i = 0; i < 3; i++)
            Assert.True(read.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));

        disposed.Endpoint.Dispose();

        Assert.Equal(0, loop.Host.QueueBudget.Used);
        Assert.Equal(0, read.Endpoint.QueueDrops);
        Assert.Equal(0, disposed.Endpoint.QueueDrops);
    }

    // A Probe that throws destroys the channel's endpoint, which nobody can read any more (a reader gets
    // ObjectDisposedException): what was queued for it before must go back to the budget. It stayed charged for good.
    [Fact]
    public void ProbeThatThrows_AfterMessagesQueuedOnItsChannel_GivesTheirBudgetBack()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.MaxQueuedBytes = Budget; },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        bool announced = false;
        loop.Host.UnboundService += (name, _) => Volatile.Write(ref announced, name == "svc-late");
        var service = loop.Remote.CreateNamedEndpoint("svc-late", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => Volatile.Read(ref announced), "the service is announced (unbound)");
        RpmsgChannel? failed = null;

        // A late driver probes on this thread; the peer's first messages reach the channel while its Probe runs.
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-late")
        {
            Probe = ch =>
            {
                failed = ch;
                for (int i = 0; i < 3; i++)
                    service.SendTo(ch.LocalAddress, new byte[Payload]);
                Assert.Equal(3, loop.Host.Poll());
                throw new InvalidOperationException("the application's Probe refuses the channel");
            },
        });

        Assert.NotNull(failed);
        Assert.True(failed.Endpoint.IsDestroyed);
        Assert.Throws<ObjectDisposedException>(() => failed.Endpoint.TryReceive(new byte[Payload], TimeSpan.Zero, out _));
        Assert.Equal(0, loop.Host.QueueBudget.Used);
    }
}
