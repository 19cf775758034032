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
}
