using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// A kick the controller refused (the peer had not read the previous word) is kept; it must go out even when neither
/// side rings again: a doorbell wait that times out (the dispatcher's idle recheck) sends it. Before, it waited for
/// the next ring or interrupt, which an RPMsg-Lite remote serving only the vring it was told about might never cause.
/// </summary>
public sealed class KeptKickFlushTests
{
    [Fact]
    public void ImxMu_KickKeptBehindAnUnreadWord_GoesOutWhenAWaitTimesOut()
    {
        var model = new ImxMuModel(ImxMuLayout.V1);
        using var device = new FakeUioDevice();
        using var doorbell = device.Open(new ImxMessagingUnit(model));
        IDoorbell bell = doorbell;

        Assert.True(bell.Ring(1));
        Assert.False(bell.Ring(0)); // TE clear: vring 1's word is unread, vring 0's is kept
        Assert.Equal(1u << 16, model.PeerReceive(1));
        Assert.Null(model.PeerReceive(1)); // nothing sends the kept word by itself

        Assert.False(bell.Wait(TimeSpan.FromMilliseconds(20))); // no interrupt: the wait times out

        Assert.Equal(0u, model.PeerReceive(1));
        Assert.Equal(0, model.LostToPeer);
    }

    [Fact]
    public void Stm32Ipcc_KickKeptWhileItsChannelIsOccupied_GoesOutWhenAWaitTimesOut()
    {
        var model = new Stm32IpccModel();
        using var device = new FakeUioDevice();
        using var doorbell = device.Open(Stm32Ipcc.ForVrings(model));
        IDoorbell bell = doorbell;

        Assert.True(bell.Ring(0));
        Assert.False(bell.Ring(0)); // the M4 has not cleared channel 0 yet: kept
        model.PeerClear(2, 0);
        Assert.False(model.Occupied(1, 0)); // nothing sends the kept kick by itself

        Assert.False(bell.Wait(TimeSpan.FromMilliseconds(20)));

        Assert.True(model.Occupied(1, 0));
    }
}
