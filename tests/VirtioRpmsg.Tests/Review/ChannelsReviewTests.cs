using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (channels): the name service, channels and the endpoint lifecycle.
/// </summary>
public class ChannelsReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // Every host tx buffer sits with a caller-polled remote that does not poll: the host's next send waits.
    private static RpmsgEndpoint FillHostTx(RpmsgLoopback loop, out int sent)
    {
        var filler = loop.Host.CreateEndpoint(0x450);
        sent = 0;
        while (filler.TrySendTo(0x999, [1]))
            sent++;
        Assert.True(sent > 0);
        return filler;
    }

    // A named endpoint disposed while its CREATE waits for a tx buffer: Dispose returns with the address free, as after
    // any Dispose, and the peer never hears of the service (nothing of it was on the ring). The address used to stay
    // published (refused as in use) until the CREATE, then its DESTROY, had gone out: up to two SendTimeouts.
    [Fact]
    public void NamedEndpoint_DisposedWhileItsCreateWaitsForATxBuffer_AddressFreeWhenDisposeReturns_PeerNeverHearsOfIt()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var unbound = new List<string>();
        loop.Remote.UnboundService += (name, _) => { lock (unbound) unbound.Add(name); };
        using var filler = FillHostTx(loop, out int sent);
        long before = loop.Host.Counters.TxBufferWaits;
        var creator = Task.Factory.StartNew(() => loop.Host.CreateNamedEndpoint("svc", 0x600, (_, _, _) => { }), TaskCreationOptions.LongRunning);
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        var named = loop.Host.Endpoints.Single(e => e.Address == 0x600);

        var disposed = Task.Factory.StartNew(named.Dispose, TaskCreationOptions.LongRunning);
        Assert.True(disposed.Wait(TimeSpan.FromSeconds(10)), "Dispose did not return while the CREATE waited");

        using var again = loop.Host.CreateEndpoint(0x600); // threw "address 0x600 is already in use"
        Assert.True(creator.Wait(Bound));
        Assert.True(creator.Result.IsDestroyed);
        // The remote takes the filler messages; no CREATE (nor DESTROY) of "svc" follows them.
        loop.WaitUntil(() => loop.Remote.Counters.Dropped >= sent, "the remote took the filler messages");
        loop.PollCallerPollDevices();
        Assert.Equal(sent, loop.Remote.Counters.RxMessages);
        lock (unbound)
            Assert.Empty(unbound);
        Assert.Equal(0, loop.Remote.Counters.Errors);
    }
}
