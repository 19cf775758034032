using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgNameServiceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Announcement_NoDriver_RaisesUnboundThenBindsOnRegister()
    {
        using var loop = RpmsgLoopback.Create();
        var unbound = new TaskCompletionSource<(string, uint)>();
        loop.Host.UnboundService += (name, address) => unbound.TrySetResult((name, address));
        using var named = loop.Remote.CreateNamedEndpoint("svc-late", 0x600, null);
        Assert.True(unbound.Task.Wait(Bound));
        Assert.Equal(("svc-late", 0x600u), unbound.Task.Result);

        var probed = new TaskCompletionSource<RpmsgChannel>();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-late") { Probe = ch => probed.TrySetResult(ch) });

        Assert.True(probed.Task.Wait(Bound));
        Assert.Equal(0x600u, probed.Task.Result.RemoteAddress);
        Assert.Single(loop.Host.Channels);
    }

    [Fact]
    public void Destroy_ChannelRemovedAndDriverRemoveRuns()
    {
        using var loop = RpmsgLoopback.Create();
        var removed = new TaskCompletionSource<RpmsgChannel>();
        var added = new TaskCompletionSource<RpmsgChannel>();
        loop.Host.ChannelAdded += ch => added.TrySetResult(ch);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc") { Remove = ch => removed.TrySetResult(ch) });
        var named = loop.Remote.CreateNamedEndpoint("svc", 0x600, null);
        Assert.True(added.Task.Wait(Bound));

        named.Dispose(); // the remote announces the destroy

        Assert.True(removed.Task.Wait(Bound));
        Assert.Same(added.Task.Result, removed.Task.Result);
        Assert.True(removed.Task.Result.Endpoint.IsDestroyed);
        Assert.Empty(loop.Host.Channels);
    }

    [Fact]
    public void Probe_Throws_ChannelRemovedAndCounted()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-bad") { Probe = _ => throw new InvalidOperationException("probe") });
        using var named = loop.Remote.CreateNamedEndpoint("svc-bad", 0x600, null);
        loop.WaitUntil(() => loop.Host.Counters.CallbackErrors == 1, "probe failure counted");
        Assert.Empty(loop.Host.Channels);
    }

    [Fact]
    public void RegisterDriver_SameNameTwice_Throws()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc"));
        Assert.Throws<ArgumentException>(() => loop.Host.RegisterDriver(new RpmsgServiceDriver("svc")));
    }

    private static void Announce(RpmsgEndpoint sender, string name, uint address, NameServiceFlags flags) =>
        RpmsgNameServiceFloodTests.Announce(sender, name, address, flags);

    // RegisterDriver binds pending announcements one by one outside the lock; a DESTROY for one not bound yet must
    // cancel it (it used to find no entry, count an error, and the channel was created anyway).
    [Fact]
    public void RegisterDriver_DestroyOfAPendingAnnouncementDuringBinding_LeavesNoChannel()
    {
        using var loop = RpmsgLoopback.Create();
        using var sender = loop.Remote.CreateEndpoint(0x700);
        Announce(sender, "svc", 0x800, NameServiceFlags.Create);
        Announce(sender, "svc", 0x801, NameServiceFlags.Create);
        loop.WaitUntil(() => loop.Host.UnboundServiceCount == 2, "both announcements recorded as unbound");

        using var destroyed = new ManualResetEventSlim();
        loop.Host.ServiceDestroyed += (_, address) =>
        {
            if (address == 0x801)
                destroyed.Set();
        };
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc")
        {
            Probe = ch =>
            {
                if (ch.RemoteAddress != 0x800)
                    return;
                // The peer withdraws the second service while the first one is being probed.
                Announce(sender, "svc", 0x801, NameServiceFlags.Destroy);
                Assert.True(destroyed.Wait(Bound), "destroy handled by the dispatcher");
            },
        });

        Assert.Equal([0x800u], loop.Host.Channels.Select(c => c.RemoteAddress).Order().ToArray());
        Assert.Equal(0, loop.Host.Counters.Errors);
    }

    // GoLive raises StateChanged(Running) before it sends the CREATEs of named endpoints created earlier. One disposed
    // in between (a StateChanged handler, a WaitForLinkUp waiter) must not leave the peer a channel (its CREATE used to
    // go out after its DESTROY).
    [Fact]
    public void NamedEndpoint_DisposedAsTheLinkComesUp_PeerKeepsNoChannel()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            start: false);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc"));
        var named = loop.Remote.CreateNamedEndpoint("svc", 0x600, (_, _, _) => { });
        loop.Remote.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Running)
                named.Dispose();
        };

        loop.Start(); // CallerPoll: the remote's link-up (and its announcements) ran inside this call
        Assert.True(named.IsDestroyed);
        long sent = loop.Remote.Counters.TxMessages;
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= sent, "the host handled everything the remote sent");

        Assert.Empty(loop.Host.Channels.Select(c => c.ToString()));
    }

    // Linux (rpmsg_ns_cb: "don't trust the remote processor for null terminating the name",
    // msg->name[31] = 0) and OpenAMP (name read as 32 bytes, compared with strncmp(.., 32)) accept a name that fills
    // all 32 bytes. OpenAMP's rpmsg_register_endpoint strncpy()s a 32-byte name without NUL and rpmsg_send_ns_message
    // sends it so. Linux binds the channel under its first 31 bytes; we drop it as malformed.
    [Fact]
    public void Announcement_NameFilling32Bytes_IsBoundUnderItsFirst31Bytes_AsLinuxDoes()
    {
        using var loop = RpmsgLoopback.Create();
        string name31 = new('a', 31);
        loop.Host.RegisterDriver(new RpmsgServiceDriver(name31));
        using var sender = loop.Remote.CreateEndpoint(0x700);
        var message = new byte[NameServiceMessage.Size];
        Encoding.ASCII.GetBytes(new string('a', 32), message); // no NUL within the 32 bytes
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(32), 0x800);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(36), 0);
        sender.SendTo(RpmsgAddress.NameService, message);

        loop.WaitUntil(() => loop.Host.Channels.Count == 1 || loop.Host.Counters.Errors > 0, "announcement handled");
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Equal(name31, Assert.Single(loop.Host.Channels).Name);
    }

    // OpenAMP binds a local named endpoint whose destination is still ADDR_ANY when the peer announces
    // the same name (rpmsg_virtio_ns_callback: rpmsg_get_endpoint(name, ANY, dest) then _ept->dest_addr = dest), and
    // unbinds it on DESTROY. Without it the named endpoint stays
    // unbound until the peer happens to send first, so a side that must speak first waits for SendTimeout.
    [Fact]
    public void PeerAnnouncement_OfTheSameName_BindsALocalNamedEndpoint_AsOpenAmpDoes()
    {
        using var loop = RpmsgLoopback.Create();
        using var unbound = new ManualResetEventSlim();
        loop.Remote.UnboundService += (name, _) =>
        {
            if (name == "svc")
                unbound.Set();
        };
        using var remoteNamed = loop.Remote.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        using var hostNamed = loop.Host.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
        Assert.True(unbound.Wait(Bound), "the host's announcement reached the remote");

        Assert.Equal(hostNamed.Address, remoteNamed.RemoteAddress);
    }
}
