using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Second review of the send/destroy changes (rereview2).</summary>
public sealed class RpmsgRereview2Tests
{
    private static RpmsgLoopback CallerPolled() => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    // A named endpoint's Dispose freed its address, then sent its name-service DESTROY (source and named address: the
    // freed one). An endpoint of the same service created in between took that address (the lowest free) and announced
    // it first, so the peer saw CREATE(svc, a) (a duplicate of the old one, ignored) and then DESTROY(svc, a), and lost
    // the new endpoint's service. The hook runs on the disposing thread just before the DESTROY's take.
    [Fact]
    public void NamedDispose_SameServiceRecreatedBeforeTheDestroyIsSent_PeerKeepsTheNewService()
    {
        using var loop = CallerPolled();
        loop.Remote.RegisterDriver(new RpmsgServiceDriver("svc"));
        var old = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        loop.Remote.Poll();
        Assert.Single(loop.Remote.Channels);
        RpmsgEndpoint? successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            successor = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        };

        old.Dispose();
        loop.Remote.Poll();

        Assert.NotNull(successor);
        var channel = Assert.Single(loop.Remote.Channels);
        Assert.Equal(successor!.Address, channel.RemoteAddress);
    }
    // The same with the endpoint destroyed while its own CREATE was still being sent: the destroy left the DESTROY to the
    // announcer (sent after its CREATE) but freed the address at once, so a new endpoint of the service took it and
    // announced it before the old CREATE and DESTROY went out; the peer withdrew the new one. The hook runs on the
    // creating thread just before the CREATE's take; the destroy and the new endpoint come there.
    [Fact]
    public void NamedDispose_WhileItsCreateIsBeingSent_SameServiceRecreated_PeerKeepsTheNewService()
    {
        using var loop = CallerPolled();
        loop.Remote.RegisterDriver(new RpmsgServiceDriver("svc"));
        RpmsgEndpoint? old = null, successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            old = loop.Host.Endpoints.Single(e => e.Name == "svc");
            old.Dispose();
            successor = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        };

        var created = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        loop.Remote.Poll();

        Assert.Same(old, created);
        Assert.NotNull(successor);
        Assert.True(created.IsDestroyed);
        var channel = Assert.Single(loop.Remote.Channels);
        Assert.Equal(successor!.Address, channel.RemoteAddress);
        // Once the old CREATE and DESTROY are out, its address is free again.
        Assert.DoesNotContain(loop.Host.Endpoints, e => ReferenceEquals(e, created));
    }
    // A driver's Probe that throws removes the channel: its endpoint's address was freed before the endpoint was marked
    // destroyed (and without the tx gate between), so a send of that endpoint (here from the Probe's own thread, as one
    // it started would be) went out under the address of an endpoint created meanwhile. As the peer's DESTROY now does:
    // destroyed and the gate passed first.
    [Fact]
    public void ProbeFails_ChannelEndpointSendAfterItsAddressIsFree_IsRefused()
    {
        using var loop = CallerPolled();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("probe-svc") { Probe = _ => throw new InvalidOperationException("probe fails") });
        loop.Remote.CreateNamedEndpoint("probe-svc", 0x401, (_, src, _) => seen.Enqueue(src));
        RpmsgEndpoint? successor = null;
        Exception? sendError = null;
        loop.Host.ProbeFailedUnpublished = ept =>
        {
            loop.Host.ProbeFailedUnpublished = null;
            successor = loop.Host.CreateEndpoint(ept.Address, remoteAddress: 0x401); // the address is free again
            sendError = Record.Exception(() => ept.SendTo(0x401, [1]));
        };

        loop.Host.Poll();
        loop.Remote.Poll();

        Assert.NotNull(successor);
        Assert.True(sendError is ObjectDisposedException,
            $"the failed channel's send: {(sendError is null ? "no exception" : sendError.GetType().Name)}; the peer received {seen.Count} message(s) from 0x{successor!.Address:X}, now another endpoint's");
        Assert.Empty(seen);
    }
}
