using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// Every descriptor a front-end replaces during a session (memory table, kick, call on a live device, error, back-end
/// request channel) and every mapping of a replaced table is closed by the time the session ends, RESET_OWNER included.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class VhostUserReplacementLeakTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;

    [Fact]
    public void ReplacedDescriptorsAndTables_LeaveNothingBehind()
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-replace-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions
        {
            DeviceCreated = device => device.CreateNamedEndpoint("rpmsg-echo", VirtioRpmsg.Rpmsg.RpmsgAddress.Any, null),
        });
        ProcessResources.AssertNoLeak(() =>
        {
            using var guest = new VhostUserTestFrontEnd(server);
            ulong offered = guest.SetUpLikeVirtioUml();
            int memory = guest.Memory!.Descriptor!.Value, kick = guest.Doorbell!.PeerInbound.Value, call = guest.Doorbell.PeerOutbound.Value;
            // Before any traffic (a device that moved is not created again without SET_VRING_BASE 0): a new table, kicks.
            for (int round = 0; round < 3; round++)
            {
                guest.SendAcked(VhostUserRequest.SetSlaveReqFd, [], Ack, call);
                guest.SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), Ack, memory);
                foreach (uint q in new[] { 0u, 1u })
                {
                    guest.SendAcked(VhostUserRequest.SetVringErr, U64(q), Ack, call);
                    guest.SendAcked(VhostUserRequest.SetVringAddr, RingAt(q, q == 0 ? Vring0 : Vring1), Ack);
                    guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, kick);
                }
            }
            guest.StartHost(offered);
            guest.WaitForAnnouncementOrLinkUp();
            // On the live device: calls switched.
            for (int round = 0; round < 3; round++)
            {
                foreach (uint q in new[] { 0u, 1u })
                    guest.SendAcked(VhostUserRequest.SetVringCall, U64(q), Ack, call);
            }
            guest.SendAcked(VhostUserRequest.ResetOwner, [], Ack);
            guest.CloseConnection();
            Assert.Null(guest.Outcome());
        });
    }
}
