using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// The vhost-user rpmsg back-end driven by the test front-end: virtio_uml's request sequence, our host device
/// as the guest's driver over memfd guest memory, echo traffic, and a fresh device for every guest.
/// </summary>
public sealed class VhostUserBackendTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    [Fact]
    public void GetFeatures_Offers_ProtocolFeaturesAndNameService_NotAccessPlatform()
    {
        using var rig = new VhostUserEchoServerRig("test");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.Send(VhostUserRequest.GetFeatures);
        ulong features = guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        Assert.NotEqual(0UL, features & (1UL << 30));
        Assert.NotEqual(0UL, features & RpmsgFeatures.NameService);
        Assert.Equal(0UL, features & (1UL << 33));
        guest.Send(VhostUserRequest.GetProtocolFeatures);
        ulong protocol = guest.ReadU64Reply(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal(VhostUserFeatures.ReplyAck | VhostUserFeatures.SlaveRequest, protocol);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void VirtioUmlSequence_ThenHostDriver_EchoesEverySizeFromZeroTo496()
    {
        using var rig = new VhostUserEchoServerRig("test");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        var rnd = new Random(7);
        var buffer = new byte[host.MaxPayload];
        for (int i = 0; i < 2000; i++)
        {
            var payload = new byte[i % 497];
            rnd.NextBytes(payload);
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
            Assert.Equal(echo, reply.Source);
        }
        Assert.Single(rig.Created);
        Assert.Equal(RpmsgDeviceState.Running, rig.Created[0].State);
    }

    [Fact]
    public void GuestDies_DeviceStopped_NextGuestGetsAFreshDevice()
    {
        using var rig = new VhostUserEchoServerRig("test");
        for (int round = 0; round < 3; round++)
        {
            using var guest = new VhostUserTestFrontEnd(rig.Server);
            guest.StartHost(guest.SetUpLikeVirtioUml());
            guest.WaitForAnnouncement("rpmsg-echo");
            guest.CloseConnection();
            Assert.Null(guest.Outcome());
            var device = rig.Created[round];
            Assert.Equal(RpmsgDeviceState.Stopped, device.State);
            Assert.Contains("closed", rig.Removed[round], StringComparison.Ordinal);
            Assert.DoesNotContain("NOT STOPPED", rig.Removed[round], StringComparison.Ordinal);
        }
        Assert.Equal(3, rig.Created.Distinct().Count());
        Assert.Equal(3, rig.Server.GuestsServed);
    }

    [Fact]
    public void DisableQueue_StopsDevice_ReEnableCreatesANewOne()
    {
        using var rig = new VhostUserEchoServerRig("test");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.SetUpLikeVirtioUml();
        Assert.Single(rig.Created);
        guest.SendAcked(VhostUserRequest.SetVringEnable, VhostUserTestFrontEnd.State(1, 0), VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag);
        Assert.Equal(RpmsgDeviceState.Stopped, rig.Created[0].State);
        Assert.Contains("disabled queue 1", rig.Removed[0], StringComparison.Ordinal);
        Assert.DoesNotContain("NOT STOPPED", rig.Removed[0], StringComparison.Ordinal);
        guest.SendAcked(VhostUserRequest.SetVringEnable, VhostUserTestFrontEnd.State(1, 1), VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag);
        Assert.Equal(2, rig.Created.Count);
        Assert.NotSame(rig.Created[0], rig.Created[1]);
    }

    [Fact]
    public void ReplyAck_EverySetGetsStatusZero_GetsGetTheirAnswerOnly()
    {
        using var rig = new VhostUserEchoServerRig("test");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        // SetUpLikeVirtioUml asserts a zero status after every SET and exactly one answer per GET.
        guest.SetUpLikeVirtioUml(replyAck: true);
        guest.Send(VhostUserRequest.GetQueueNum, default, VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag);
        Assert.Equal(2UL, guest.ReadU64Reply(VhostUserRequest.GetQueueNum));
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
