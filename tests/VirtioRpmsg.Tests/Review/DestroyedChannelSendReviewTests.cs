using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A channel from <see cref="RpmsgLink.WaitForChannelAsync(string, CancellationToken)"/> that the peer destroys (its
/// DESTROY marks the channel's endpoint destroyed before the link's Remove runs, so a wait in between still returns it):
/// a send on it fails at once with <see cref="ObjectDisposedException"/> naming the endpoint, never waits, and never
/// goes out (from an address that may be another endpoint's by then).
/// </summary>
public sealed class DestroyedChannelSendReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Send_OnAChannelThePeerDestroyed_ThrowsObjectDisposedNamingTheEndpoint_AndSendsNothing()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        using var link = open.Result;
        var service = remote.Announce(0, "svc-destroyed", 0x900);
        var channel = await link.WaitForChannelAsync("svc-destroyed").WaitAsync(Bound);
        channel.Send([1, 2, 3]);
        Assert.Equal(3, channel.Endpoint.Receive(new byte[16], Bound).Length); // the echo: the channel works

        service.Dispose(); // the peer's DESTROY
        Assert.True(SpinWait.SpinUntil(() => channel.Endpoint.IsDestroyed, Bound), "the peer's DESTROY never destroyed the channel's endpoint");
        long sent = link.Device.Counters.TxMessages;

        var e = Assert.Throws<ObjectDisposedException>(() => channel.Send([4]));
        Assert.Contains($"endpoint 0x{channel.LocalAddress:X}", e.Message);
        Assert.Contains("was destroyed", e.Message);
        Assert.Throws<ObjectDisposedException>(() => channel.TrySend([5]));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => channel.SendAsync(new byte[] { 6 }).AsTask().WaitAsync(Bound));
        Assert.Equal(sent, link.Device.Counters.TxMessages);

        // Once the link's Remove ran, a new wait does not return the destroyed channel: it waits for a new announcement
        // (a short look: nothing is announced again, so any channel it returned would be the destroyed one).
        Assert.True(SpinWait.SpinUntil(() => link.Device.Channels.Count == 0, Bound));
        var waited = await Record.ExceptionAsync(() => link.WaitForChannelAsync("svc-destroyed").WaitAsync(TimeSpan.FromMilliseconds(300)));
        Assert.IsType<TimeoutException>(waited);
    }
}
