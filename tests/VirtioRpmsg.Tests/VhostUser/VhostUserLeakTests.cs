using VirtioRpmsg.Tests.Memory;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>Guests that come and go (orderly or hostile) leave no descriptor and no mapping behind in the back-end.</summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class VhostUserLeakTests
{
    [Fact]
    public void GuestSessions_LeaveNoDescriptorsOrMappings()
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-leak-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions
        {
            DeviceCreated = device => device.CreateNamedEndpoint("rpmsg-echo", VirtioRpmsg.Rpmsg.RpmsgAddress.Any, null),
        });
        ProcessResources.AssertNoLeak(() =>
        {
            using (var guest = new VhostUserTestFrontEnd(server))
            {
                guest.StartHost(guest.SetUpLikeVirtioUml());
                guest.WaitForAnnouncementOrLinkUp();
            }
            using (var hostile = new VhostUserTestFrontEnd(server))
            {
                hostile.CreateGuest();
                int fd = hostile.Memory!.Descriptor!.Value;
                // A good region, then one the file cannot back: the first mapping must be undone.
                hostile.Send(VhostUserRequest.SetMemTable, Table((GuestBase, 0x1000, GuestBase, 0), (GuestBase + 0x10000, 0x10000000, GuestBase + 0x10000, 0)), VhostUserHeader.Version, fd, fd);
                Assert.NotNull(hostile.Outcome());
            }
        });
    }
}
