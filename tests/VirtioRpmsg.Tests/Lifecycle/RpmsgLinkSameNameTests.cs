using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (lifecycle): a remote may announce one service name at two addresses (two channels, as two rpmsg devices in
/// Linux). <see cref="RpmsgLink.WaitForChannelAsync(string, int, CancellationToken)"/> must go on returning a live
/// channel of that name as long as one exists: the destroy of one leaves the other.
/// </summary>
public class RpmsgLinkSameNameTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static RpmsgLink Open(MultiVdevRemote remote, TimeSpan timeout)
    {
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Timeout = timeout, Device = new RpmsgDeviceOptions { Name = "same-name" } });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        return open.Result;
    }

    /// <summary>Withdraws <paramref name="announced"/> and waits until the host removed its channel (the driver's Remove ran).</summary>
    private static void Withdraw(RpmsgLink link, RpmsgEndpoint announced)
    {
        using var removed = new ManualResetEventSlim();
        void OnRemoved(RpmsgChannel channel)
        {
            if (channel.RemoteAddress == announced.Address)
                removed.Set();
        }
        link.Devices[0].ChannelRemoved += OnRemoved;
        announced.Dispose();
        Assert.True(removed.Wait(Bound), $"the channel to 0x{announced.Address:X} was not removed");
        link.Devices[0].ChannelRemoved -= OnRemoved;
    }

    private static void WaitForChannels(RpmsgLink link, string name, int count) =>
        Assert.True(SpinWait.SpinUntil(() => link.Devices[0].Channels.Count(c => c.Name == name) == count, Bound),
            $"expected {count} '{name}' channel(s), have {string.Join(", ", link.Devices[0].Channels)}");

    // The newer announcement used to replace the waiter's channel; its destroy then left the waiter with nothing
    // although the older channel was still bound, and WaitForChannelAsync timed out.
    [Fact]
    public async Task SecondAnnouncementOfTheSameName_ItsDestroy_WaiterStillGetsTheOlderChannel()
    {
        using var remote = MultiVdevRemote.Create(0);
        // Short, so the defect (a wait that never ends) fails in seconds; opening needs only a fraction of it.
        using var link = Open(remote, TimeSpan.FromSeconds(10));
        using var older = remote.Announce(0, "svc", 0x900);
        var first = await link.WaitForChannelAsync("svc", 0);
        Assert.Equal(0x900u, first.RemoteAddress);

        var newer = remote.Announce(0, "svc", 0x901);
        WaitForChannels(link, "svc", 2);
        Withdraw(link, newer); // the remote withdraws the second one only

        var again = await link.WaitForChannelAsync("svc", 0);
        Assert.Same(first, again);
        Assert.False(again.Endpoint.IsDestroyed);
    }

    // The other order: the older one goes, the waiter moves on to the newer one still bound.
    [Fact]
    public async Task SecondAnnouncementOfTheSameName_OlderDestroyed_WaiterGetsTheNewerChannel()
    {
        using var remote = MultiVdevRemote.Create(0);
        using var link = Open(remote, TimeSpan.FromSeconds(10));
        var older = remote.Announce(0, "svc", 0x900);
        var first = await link.WaitForChannelAsync("svc", 0);
        using var newer = remote.Announce(0, "svc", 0x901);
        WaitForChannels(link, "svc", 2);

        Withdraw(link, older);

        var again = await link.WaitForChannelAsync("svc", 0);
        Assert.NotSame(first, again);
        Assert.Equal(0x901u, again.RemoteAddress);
        Assert.False(again.Endpoint.IsDestroyed);
    }
}
