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

    // A second Dispose of a named endpoint, racing the first while that one sends the DESTROY, freed the address (it
    // unpublished the endpoint too): a new endpoint of the same service took it (the lowest free) and announced it before
    // the old DESTROY went out, so the peer saw CREATE(svc, a) (a duplicate, ignored), then DESTROY(svc, a), and lost the
    // new service. The hook runs on the first disposer's thread just before the DESTROY's take.
    [Fact]
    public void NamedEndpoint_SecondDisposeWhileTheFirstSendsTheDestroy_SameServiceRecreated_PeerKeepsTheNewService()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        loop.Remote.RegisterDriver(new RpmsgServiceDriver("svc"));
        var old = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        loop.Remote.Poll();
        Assert.Single(loop.Remote.Channels);
        RpmsgEndpoint? successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            Assert.True(Task.Factory.StartNew(old.Dispose, TaskCreationOptions.LongRunning).Wait(Bound), "the second Dispose did not return");
            successor = Task.Factory.StartNew(() => loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { }), TaskCreationOptions.LongRunning).Result;
        };

        old.Dispose();
        loop.Remote.Poll();

        Assert.NotNull(successor);
        var channel = Assert.Single(loop.Remote.Channels);
        Assert.Equal(successor!.Address, channel.RemoteAddress);
    }

    // Known item, refuted: a message taken in the same batch as one whose callback destroys its endpoint and creates
    // another at the same address goes to the new endpoint. Linux (virtio_rpmsg_bus.c rpmsg_recv_single) looks the
    // destination up per message, after the previous message's callback returned and before the buffer goes back, so it
    // delivers this message to the new endpoint too: taking the batch first is invisible. An endpoint generation that
    // dropped it would differ from Linux; a message still in the ring when the new endpoint appears cannot be told apart
    // from one sent to it anyway.
    [Fact]
    public void MessageBatchedBehindACallbackThatReplacesItsEndpoint_GoesToTheEndpointAtDelivery_AsLinuxLooksUpPerMessage()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var toOld = new List<byte>();
        var toNew = new List<byte>();
        var old = loop.Host.CreateEndpoint(0x400, (_, _, p) => toOld.Add(p[0]));
        RpmsgEndpoint? successor = null;
        using var replacer = loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            old.Dispose();
            successor = loop.Host.CreateEndpoint(0x400, (_, _, p) => toNew.Add(p[0]));
        });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        sender.SendTo(0x500, [1]);
        sender.SendTo(0x400, [2]);

        Assert.Equal(2, loop.Host.Poll()); // one batch: both taken before the first callback ran

        Assert.Empty(toOld);
        Assert.Equal([(byte)2], toNew);
        successor!.Dispose();
    }

    // Seed 003's trace: the remote announces two channels at addresses 0x0 and 0x1 (reserved in our dynamic range, but
    // legal remote addresses, as Linux binds them); each gets a channel whose sends reach that address, and announcing
    // them again (a remote that restarted its services without a DESTROY) duplicates nothing.
    [Fact]
    public void PeerAnnouncesAtAddressesZeroAndOne_TwoChannels_SendsReachThem_RepeatedAnnouncementsDuplicateNothing()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var received = new List<(uint Dst, uint Src)>();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("rpmsg-tty-channel"));
        using var tty0 = loop.Remote.CreateEndpoint(0x0, (e, src, _) => received.Add((e.Address, src)));
        using var tty1 = loop.Remote.CreateEndpoint(0x1, (e, src, _) => received.Add((e.Address, src)));
        using var ns = loop.Remote.CreateEndpoint(0x700);
        for (int round = 0; round < 3; round++)
        {
            RpmsgNameServiceFloodTests.Announce(ns, "rpmsg-tty-channel", 0x0, NameServiceFlags.Create);
            RpmsgNameServiceFloodTests.Announce(ns, "rpmsg-tty-channel", 0x1, NameServiceFlags.Create);
            loop.Host.Poll();
        }

        var channels = loop.Host.Channels.OrderBy(c => c.RemoteAddress).ToArray();
        Assert.Equal([0x0u, 0x1u], channels.Select(c => c.RemoteAddress).ToArray());
        foreach (var channel in channels)
            channel.Send([7]);
        loop.Remote.Poll();
        Assert.Equal([(0x0u, channels[0].LocalAddress), (0x1u, channels[1].LocalAddress)], received.OrderBy(r => r.Dst).ToArray());
        Assert.Equal(4, loop.Host.Counters.NameServiceDuplicates);
    }
}

/// <summary>Review (channels): service names the application gives.</summary>
public class ChannelsServiceNameReviewTests
{
    // A lone surrogate is not text UTF-8 can carry: the encoder put EF BF BD (U+FFFD) on the wire in its place, so the
    // peer was told another name than the application's, and a driver of that name never matched an announcement.
    // (Strings built in code: a theory's inline data is serialized, and a lone surrogate does not survive that.)
    [Fact]
    public void ServiceName_WithALoneSurrogate_IsRefusedNamingIt()
    {
        foreach (var name in new[] { "svc" + '\uD800', '\uDC00' + "svc" })
        {
            var e = Assert.Throws<ArgumentException>(() => NameServiceMessage.ValidateName(name));
            Assert.Equal("name", e.ParamName);
            Assert.Contains("lone surrogate", e.Message);
            Assert.Throws<ArgumentException>(() => new RpmsgServiceDriver(name));
            Assert.Throws<ArgumentException>(() => new NameServiceMessage(name, 0x400, NameServiceFlags.Create).Write(new byte[NameServiceMessage.Size]));
        }
    }
}
