using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Platform.Mailboxes;

/// <summary>
/// The host's kicks as the remote's firmware reads them off a real mailbox. Linux's platform drivers name the kicked
/// vring in the word they send: imx_rproc_kick sends notifyid &lt;&lt; 16, omap_rproc_kick and the K3 drivers send the
/// notifyid; virtio_rpmsg_bus kicks vq0 (its rx ring) once after DRIVER_OK and vq1 (its tx ring) for a message.
/// RPMsg-Lite's i.MX MU handler dispatches on the word (env_isr(word >> 16)), and its remote comes up only on a vq0
/// notification (rpmsg_lite_tx_callback sets link_state); a message is read only on a vq1 one (rpmsg_lite_rx_callback).
/// </summary>
public sealed class HostVringKickTests
{
    // Host and remote caller-polled over one region; the host's doorbell is a UIO doorbell over a controller model,
    // which plays the firmware's side of the mailbox (the remote device itself is polled by the test).
    private static RpmsgLoopback Loop(UioDoorbell hostDoorbell) => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        hostDoorbell: _ => hostDoorbell);

    [Fact]
    public void ImxMu_DefaultWords_DriverOkKicksVring0AndASendKicksVring1()
    {
        using var device = new FakeUioDevice();
        var model = new ImxMuModel(ImxMuLayout.V1);
        using var doorbell = device.Open(new ImxMessagingUnit(model));
        using var loop = Loop(doorbell);

        // After DRIVER_OK: vq0 ("start sending"), which is what brings an RPMsg-Lite remote's link up.
        Assert.Equal(0u << 16, model.PeerReceive(1));

        // The remote asks to be told of new messages, as its dispatcher does before it sleeps.
        loop.Remote.Transport!.EnableRxNotifications();
        using var ept = loop.Host.CreateEndpoint();
        Assert.True(ept.TrySendTo(0x35, [1, 2, 3]));

        // A message on vq1: the word RPMsg-Lite's handler turns into its receive vector.
        Assert.Equal(1u << 16, model.PeerReceive(1));
        Assert.Equal(0, model.LostToPeer);
    }

    [Fact]
    public void TiMailbox_DefaultWords_DriverOkKicksVring0AndASendKicksVring1()
    {
        using var device = new FakeUioDevice();
        var model = new TiMailboxModel();
        using var doorbell = device.Open(new TiMailbox(model, txFifo: 1, rxFifo: 0, user: 0));
        using var loop = Loop(doorbell);

        // omap_rproc_kick / k3_rproc_kick: the word is the vring's id.
        Assert.Equal(0u, model.PeerReceive(1));
        Assert.Null(model.PeerReceive(1));

        // The remote asks to be told of new messages, as its dispatcher does before it sleeps.
        loop.Remote.Transport!.EnableRxNotifications();
        using var ept = loop.Host.CreateEndpoint();
        Assert.True(ept.TrySendTo(0x35, [1, 2, 3]));

        Assert.Equal(1u, model.PeerReceive(1));
        Assert.Null(model.PeerReceive(1));
    }
}
