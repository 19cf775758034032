using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// RESET_OWNER (deprecated in the vhost-user specification: "some back-ends interpreted it to also discard connection
/// state (this interpretation would lead to bugs)"): the device goes, but what the connection agreed (REPLY_ACK)
/// stays: the front-end still waits for a status on every request it sends with NEED_REPLY, this one included.
/// </summary>
public sealed class VhostUserResetOwnerTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;

    [Fact]
    public void ResetOwnerWithNeedReply_IsAcknowledged_AndLaterRequestsStillAre()
    {
        using var rig = new VhostUserEchoServerRig("reset");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        Assert.Single(rig.Created);

        guest.Send(VhostUserRequest.ResetOwner, [], Ack);
        // The next reply must be RESET_OWNER's status, not GET_FEATURES' answer.
        guest.Send(VhostUserRequest.GetFeatures);
        Assert.Equal(0UL, guest.ReadU64Reply(VhostUserRequest.ResetOwner));
        Assert.Equal(offered, guest.ReadU64Reply(VhostUserRequest.GetFeatures));
        Assert.Equal(RpmsgDeviceState.Stopped, rig.Created[0].State);

        // REPLY_ACK is still agreed: a later request with NEED_REPLY gets its status before the next answer.
        guest.Send(VhostUserRequest.SetFeatures, U64(offered), Ack);
        guest.Send(VhostUserRequest.GetQueueNum);
        Assert.Equal(0UL, guest.ReadU64Reply(VhostUserRequest.SetFeatures));
        Assert.Equal(2UL, guest.ReadU64Reply(VhostUserRequest.GetQueueNum));
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
