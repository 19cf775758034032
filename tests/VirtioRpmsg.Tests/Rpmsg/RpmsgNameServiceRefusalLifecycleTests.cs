using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (lifecycle): an announcement the host could not bind (its driver's Probe threw, or the endpoint table was
/// full) is still the peer's service until the peer withdraws it, as in Linux, where a device whose probe failed stays
/// on the bus until rpmsg_ns's DESTROY unregisters it. And a destroy handed to a Probe still running is reported
/// (ServiceDestroyed) only after the channel's Remove and ChannelRemoved, as on every other path.
/// </summary>
public class RpmsgNameServiceRefusalLifecycleTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static void Announce(RpmsgEndpoint sender, string name, uint address, NameServiceFlags flags) =>
        RpmsgNameServiceFloodTests.Announce(sender, name, address, flags);

    private static ManualResetEventSlim DestroyedSignal(RpmsgDevice device, uint address)
    {
        var destroyed = new ManualResetEventSlim();
        device.ServiceDestroyed += (_, a) =>
        {
            if (a == address)
                destroyed.Set();
        };
        return destroyed;
    }

    // The peer did nothing wrong: it announced, then withdrew. The failed Probe is the application's (counted as a
    // callback error); the withdrawal used to be counted as a peer error ("destroy for unknown channel").
    [Fact]
    public void ProbeThrew_PeerWithdrawsTheService_NoPeerErrorCounted()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-bad") { Probe = _ => throw new InvalidOperationException("probe") });
        using var destroyed = DestroyedSignal(loop.Host, 0x600);
        var named = loop.Remote.CreateNamedEndpoint("svc-bad", 0x600, null);
        loop.WaitUntil(() => loop.Host.Counters.CallbackErrors == 1, "probe failure counted");

        named.Dispose(); // the peer's DESTROY

        Assert.True(destroyed.Wait(Bound), "the DESTROY was not handled");
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Empty(loop.Host.Channels);
        Assert.Equal(0, loop.Host.UnboundServiceCount);
    }

    // A repeated CREATE of a service whose Probe failed is a duplicate (Linux: "channel already exists"), not a second probe.
    [Fact]
    public void ProbeThrew_PeerRepeatsTheAnnouncement_CountedAsDuplicateNotProbedAgain()
    {
        using var loop = RpmsgLoopback.Create();
        int probes = 0;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-bad")
        {
            Probe = _ =>
            {
                Interlocked.Increment(ref probes);
                throw new InvalidOperationException("probe");
            },
        });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        Announce(sender, "svc-bad", 0x800, NameServiceFlags.Create);
        loop.WaitUntil(() => loop.Host.Counters.CallbackErrors == 1, "probe failure counted");

        Announce(sender, "svc-bad", 0x800, NameServiceFlags.Create);

        loop.WaitUntil(() => loop.Host.Counters.NameServiceDuplicates == 1 || Volatile.Read(ref probes) > 1, "repeated announcement handled");
        Assert.Equal(1, Volatile.Read(ref probes));
        Assert.Equal(0, loop.Host.Counters.Errors);
    }

    // The application closed the channel (disposed its endpoint: Remove and ChannelRemoved ran); the peer's service is
    // still there (Linux: rpmsg_destroy_ept leaves the rpmsg device), so its later withdrawal is no peer error.
    [Fact]
    public void ApplicationDisposedTheChannelEndpoint_PeerWithdrawsTheService_NoPeerErrorCounted()
    {
        using var loop = RpmsgLoopback.Create();
        var added = new TaskCompletionSource<RpmsgChannel>();
        loop.Host.ChannelAdded += ch => added.TrySetResult(ch);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc"));
        using var destroyed = DestroyedSignal(loop.Host, 0x600);
        var named = loop.Remote.CreateNamedEndpoint("svc", 0x600, null);
        Assert.True(added.Task.Wait(Bound), "channel not added");
        added.Task.Result.Endpoint.Dispose();
        Assert.Empty(loop.Host.Channels);

        named.Dispose();

        Assert.True(destroyed.Wait(Bound), "the DESTROY was not handled");
        Assert.Equal(0, loop.Host.Counters.Errors);
    }

    // The endpoint table was full when the service came: refused (counted as such). The peer's later withdrawal is not
    // a second, peer, error.
    [Fact]
    public void EndpointTableFullAtBind_PeerWithdrawsTheService_NoPeerErrorCounted()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.MaxEndpoints = 2);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc"));
        using var filler = loop.Host.CreateEndpoint(); // with the name-service endpoint the table is full
        using var destroyed = DestroyedSignal(loop.Host, 0x600);
        var named = loop.Remote.CreateNamedEndpoint("svc", 0x600, null);
        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == 1, "announcement refused for the full table");

        named.Dispose();

        Assert.True(destroyed.Wait(Bound), "the DESTROY was not handled");
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Empty(loop.Host.Channels);
    }

    // A late RegisterDriver probes on the application's thread; the peer withdraws the service meanwhile. The removal
    // is handed to the probing thread; ServiceDestroyed used to be raised at once by the dispatcher, before ChannelAdded
    // and ChannelRemoved (and before the driver's Remove), unlike every other destroy.
    [Fact]
    public void DestroyHandedToARunningProbe_ServiceDestroyedComesAfterRemoveAndChannelRemoved()
    {
        using var loop = RpmsgLoopback.Create();
        using var sender = loop.Remote.CreateEndpoint(0x700);
        Announce(sender, "svc", 0x800, NameServiceFlags.Create);
        loop.WaitUntil(() => loop.Host.UnboundServiceCount == 1, "announcement recorded as unbound");
        var events = new List<string>();
        void Record(string e)
        {
            lock (events)
                events.Add(e);
        }
        using var destroyed = new ManualResetEventSlim();
        loop.Host.ChannelAdded += _ => Record("ChannelAdded");
        loop.Host.ChannelRemoved += _ => Record("ChannelRemoved");
        loop.Host.ServiceDestroyed += (_, _) =>
        {
            Record("ServiceDestroyed");
            destroyed.Set();
        };

        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc")
        {
            Probe = ch =>
            {
                Announce(sender, "svc", 0x800, NameServiceFlags.Destroy);
                // The dispatcher took the channel and handed its removal to this (probing) thread.
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref ch.RemoveHandedOver), Bound), "the destroy was not handed over");
                Record("Probe done");
            },
            Remove = _ => Record("Remove"),
        });

        Assert.True(destroyed.Wait(Bound), "ServiceDestroyed never raised");
        lock (events)
            Assert.Equal(["Probe done", "ChannelAdded", "Remove", "ChannelRemoved", "ServiceDestroyed"], events);
        Assert.Empty(loop.Host.Channels);
        Assert.Equal(0, loop.Host.Counters.Errors);
    }

    // As above, but the Probe then throws: no Remove, no ChannelRemoved, and ServiceDestroyed still comes, once.
    [Fact]
    public void DestroyHandedToAProbeThatThrows_ServiceDestroyedRaisedOnceAfterTheProbe()
    {
        using var loop = RpmsgLoopback.Create();
        using var sender = loop.Remote.CreateEndpoint(0x700);
        Announce(sender, "svc", 0x800, NameServiceFlags.Create);
        loop.WaitUntil(() => loop.Host.UnboundServiceCount == 1, "announcement recorded as unbound");
        int destroyedCount = 0;
        bool probeDone = false, destroyedBeforeProbeEnded = false;
        loop.Host.ServiceDestroyed += (_, _) =>
        {
            destroyedBeforeProbeEnded |= !Volatile.Read(ref probeDone);
            Interlocked.Increment(ref destroyedCount);
        };

        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc")
        {
            Probe = ch =>
            {
                Announce(sender, "svc", 0x800, NameServiceFlags.Destroy);
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref ch.RemoveHandedOver), Bound), "the destroy was not handed over");
                Volatile.Write(ref probeDone, true);
                throw new InvalidOperationException("probe");
            },
        });

        loop.WaitUntil(() => Volatile.Read(ref destroyedCount) >= 1, "ServiceDestroyed raised");
        Assert.False(destroyedBeforeProbeEnded, "ServiceDestroyed was raised while the Probe still ran");
        Assert.Equal(1, Volatile.Read(ref destroyedCount));
        Assert.Empty(loop.Host.Channels);
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Equal(0, loop.Host.UnboundServiceCount);
    }
}
