using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-e: an eventfd doorbell over a kept connection (a board.json doorbell socket) took the connection being
/// readable for the peer having closed it (<c>EventFdDoorbell.PeerClosed</c> tested VR_READY_FD, any revents). A peer
/// that is still there and sends one more message on that connection (an empty SEQPACKET message, say: 0cd9a0c made
/// that bad input, not the end of the channel) made the next timed-out wait throw <see cref="DoorbellClosedException"/>
/// ("the peer closed the connection") and the host device break. Only a hang-up (POLLHUP / POLLRDHUP,
/// VR_READY_HANGUP) is the peer leaving.
/// </summary>
public sealed class KeptConnectionMessageRereviewTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(30)]
    public void Wait_PeerStillConnectedSendsAMessageOnTheConnection_IsNotThePeerLeaving(int length)
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-kept-message");
        using var peer = local.CreatePeer();
        var (ours, theirs) = DescriptorPassing.CreatePair();
        local.KeepConnection(ours);
        using var _ = theirs;

        Assert.Equal(length, RawSendMsg.Send(theirs.Socket.Value, new byte[length]));

        var thrown = Record.Exception(() => local.Wait(TimeSpan.FromMilliseconds(20)));
        Assert.True(thrown is null, $"a message from a peer still connected read as its close: {thrown?.GetType().Name}: {thrown?.Message}");
        Assert.True(peer.Ring());
        Assert.True(local.Wait(TimeSpan.FromSeconds(10)));

        theirs.Dispose(); // the close is still seen, with the message unread before it
        Assert.Throws<DoorbellClosedException>(() => local.Wait(TimeSpan.FromMilliseconds(20)));
    }
}
