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
        // The oldest withdrawn channel gave its budget back (its messages counted as drops); its reader is told so
        // (review pipes3: it saw the clean end, ObjectDisposedException, as after reading everything).
        Assert.Equal(fits / 2, oldest.Endpoint.QueueDrops);
        var buffer = new byte[Payload];
        Assert.Equal(fits / 2, Assert.Throws<RpmsgMessagesDroppedException>(() => oldest.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _)).Dropped);
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

    // Review (rereview-budget): the budget knows what the withdrawn channels hold, read by read (it takes nothing back
    // that would not make a charge fit).
    [Fact]
    public void PeerDestroyedChannel_PartlyRead_ListsWhatItStillHolds()
    {
        var probed = new List<RpmsgChannel>();
        using var loop = Loop(probed);
        var channel = Churn(loop, probed, messages: 3);
        Assert.Equal(3 * Cost, loop.Host.QueueBudget.RetainedBytes);
        var buffer = new byte[Payload];

        Assert.True(channel.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));
        Assert.Equal(2 * Cost, loop.Host.QueueBudget.RetainedBytes);
        channel.Endpoint.Dispose();

        Assert.Equal(0, loop.Host.QueueBudget.RetainedBytes);
        Assert.Equal(0, loop.Host.QueueBudget.Used);
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

/// <summary>
/// Review (rereview-budget): the budget takes a withdrawn channel's unread messages back only when that makes the
/// charge fit. A reclaim that cannot make room dropped them for nothing: the message that asked for the room was
/// refused all the same, and the withdrawn channel's reader lost what the peer sent before its DESTROY.
/// </summary>
public sealed class RpmsgPeerDestroyReclaimTests
{
    private const long Budget = ushort.MaxValue + 64L;
    private const int Payload = 400;

    [Fact]
    public void ChargeThatDoesNotFitEvenWithEveryWithdrawnChannelTakenBack_KeepsTheirMessages()
    {
        var probed = new List<RpmsgChannel>();
        using var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.MaxQueuedBytes = Budget; },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-churn") { Probe = ch => { lock (probed) probed.Add(ch); } });
        var service = loop.Remote.CreateNamedEndpoint("svc-churn", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => { lock (probed) return probed.Count == 1; }, "the channel is probed");
        var withdrawn = probed[0];
        service.SendTo(withdrawn.LocalAddress, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= 1, "the message is dispatched");
        service.Dispose();
        loop.WaitUntil(() => withdrawn.Endpoint.IsDestroyed, "the peer's DESTROY destroyed the channel's endpoint");
        long retained = loop.Host.QueueBudget.Used;
        Assert.Equal(Payload + RpmsgQueueBudget.PerMessageOverhead, retained);
        Assert.Equal(retained, loop.Host.QueueBudget.RetainedBytes);

        // A live endpoint nobody reads takes nearly all the rest: less room left than the largest message needs, even
        // with the withdrawn channel's bytes given back.
        var live = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x600);
        int largest = live.MaxPayload;
        long cost = Payload + RpmsgQueueBudget.PerMessageOverhead;
        int count = (int)((Budget - retained) / cost);
        for (int i = 0; i < count; i++)
            sender.SendTo(0x500, new byte[Payload]);
        long free = Budget - retained - count * cost;
        int filler = (int)(free - RpmsgQueueBudget.PerMessageOverhead - 1); // leaves one byte
        if (filler >= 0)
            sender.SendTo(0x500, new byte[filler]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= 1 + count + (filler >= 0 ? 1 : 0), "the live endpoint's messages are dispatched");
        Assert.Equal(0, live.QueueDrops);
        long left = Budget - loop.Host.QueueBudget.Used;
        Assert.True(left + retained < largest + RpmsgQueueBudget.PerMessageOverhead, $"set-up: {left} + {retained} bytes would fit the largest message");

        long rx = loop.Host.Counters.RxMessages;
        sender.SendTo(0x500, new byte[largest]); // cannot fit, reclaim or not
        loop.WaitUntil(() => loop.Host.Counters.RxMessages > rx, "the largest message is dispatched");

        Assert.Equal(1, live.QueueDrops);
        Assert.Equal(0, withdrawn.Endpoint.QueueDrops); // was 1: dropped for nothing
        var buffer = new byte[Payload];
        Assert.True(withdrawn.Endpoint.TryReceive(buffer, TimeSpan.Zero, out var got), "the withdrawn channel's message was dropped for a charge it could not make fit");
        Assert.Equal(Payload, got.Length);
        Assert.Equal(0, loop.Host.QueueBudget.RetainedBytes);
        Assert.Equal(0, loop.Host.QueueBudget.RetainedCount);
    }
}

/// <summary>Review (rereview-budget): a reclaim racing the withdrawn queue's reader gives each message's charge back once.</summary>
public sealed class RpmsgRetainedQueueRaceTests
{
    [Fact]
    public void ReclaimRacingAReader_EveryChargeGivenBackOnce()
    {
        long cost = RpmsgQueueBudget.Cost(100);
        var payload = new byte[100];
        for (int round = 0; round < 300; round++)
        {
            var budget = new RpmsgQueueBudget(10 * cost);
            var withdrawn = new RpmsgEndpointQueue(64, budget);
            for (int i = 0; i < 8; i++)
                Assert.True(withdrawn.TryEnqueue(1, payload));
            withdrawn.Close();
            withdrawn.RetainUnread();
            Assert.Equal(8 * cost, budget.RetainedBytes);
            var live = new RpmsgEndpointQueue(64, budget);
            using var go = new Barrier(2);
            int read = 0;
            var reader = new Thread(() =>
            {
                var buffer = new byte[100];
                go.SignalAndWait();
                while (withdrawn.TryDequeue(buffer, out _))
                    read++;
            });
            reader.Start();
            go.SignalAndWait();
            int queued = 0;
            for (int i = 0; i < 10; i++)
                queued += live.TryEnqueue(2, payload) ? 1 : 0;
            reader.Join();

            Assert.Equal(10, queued); // what the reader did not take was taken back
            Assert.True(read <= 8);
            Assert.Equal(10 * cost, budget.Used);
            Assert.Equal(0, budget.RetainedBytes);
            Assert.Equal(0, budget.RetainedCount);
            Assert.True(withdrawn.IsClosed);
            Assert.Equal(10, live.Drain());
            Assert.Equal(0, budget.Used);
        }
    }
}
