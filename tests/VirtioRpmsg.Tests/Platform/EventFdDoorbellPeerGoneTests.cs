using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// An eventfd pair exchanged over a connection the doorbell keeps (a board.json doorbell with a socket, as a standalone
/// <c>rpmsg remote</c> uses): the peer closing that connection (it exited or was killed) is seen at the next wait that
/// times out, as <see cref="DoorbellClosedException"/>, and a device over the doorbell breaks instead of "running" with
/// nobody there (sends filling the ring, receives waiting for ever).
/// </summary>
public sealed class EventFdDoorbellPeerGoneTests
{
    private static (EventFdDoorbell Local, EventFdDoorbell Peer, DescriptorPassing PeerConnection) Connected()
    {
        var local = EventFdDoorbell.Create("vrpmsg-test-kept");
        var peer = local.CreatePeer();
        var (ours, theirs) = DescriptorPassing.CreatePair();
        local.KeepConnection(ours);
        return (local, peer, theirs);
    }

    [Fact]
    public void Wait_TimesOutAfterThePeerClosedItsConnection_ThrowsDoorbellClosed()
    {
        var (local, peer, connection) = Connected();
        using var _ = local;
        using var __ = peer;

        connection.Dispose();

        var e = Assert.Throws<DoorbellClosedException>(() => local.Wait(TimeSpan.FromMilliseconds(20)));
        Assert.Contains("closed the connection", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wait_PeerConnected_TimesOutQuietly_AndARingStillWakes()
    {
        var (local, peer, connection) = Connected();
        using var _ = local;
        using var __ = peer;
        using var ___ = connection;

        Assert.False(local.Wait(TimeSpan.FromMilliseconds(20)));
        Assert.True(peer.Ring());
        Assert.True(local.Wait(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Wait_RingPendingWhenThePeerLeft_IsTakenFirst()
    {
        var (local, peer, connection) = Connected();
        using var _ = local;
        using var __ = peer;
        Assert.True(peer.Ring());

        connection.Dispose();

        Assert.True(local.Wait(TimeSpan.FromSeconds(10))); // its last ring is not lost
        Assert.Throws<DoorbellClosedException>(() => local.Wait(TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public async Task HostDevice_PeerConnectionClosed_BreaksAndEndsAPendingReceive()
    {
        var (local, peer, connection) = Connected();
        using var __ = connection;
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMilliseconds(50),
            hostDoorbell: _ => local,
            remoteDoorbell: _ => peer);
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var pending = endpoint.ReceiveAsync(new byte[64]).AsTask();

        connection.Dispose();

        var e = await Record.ExceptionAsync(() => pending.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.IsType<RpmsgDeviceUnavailableException>(e);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Contains("closed the connection", loop.Host.StateReason, StringComparison.Ordinal);
    }
}
