using VirtioRpmsg.Interop;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// A kick descriptor is an eventfd (the vhost-user specification; virtio_uml and QEMU pass one). The doorbell counts
/// any successful read of it as a kick, and a socket or pipe whose other end is closed reads end-of-file at once, every
/// time: such a descriptor woke the dispatcher about 70,000 times in 200 ms with nothing kicked (a core spent for as
/// long as the guest stays connected), and made the device "driver ready" without any kick. It is refused when it
/// arrives, with one fault naming the queue.
/// </summary>
public sealed class VhostUserKickDescriptorTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;

    [Fact]
    public void VringKick_SocketInsteadOfEventFd_IsRefusedWithAFaultNamingTheQueue()
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-kick-" + Guid.NewGuid().ToString("N"));
        using var guest = new VhostUserTestFrontEnd(server);
        guest.Send(VhostUserRequest.GetProtocolFeatures);
        ulong protocol = guest.ReadU64Reply(VhostUserRequest.GetProtocolFeatures);
        guest.Send(VhostUserRequest.SetProtocolFeatures, U64(protocol & VhostUserFeatures.ReplyAck));
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out int ours, out int theirs), "socketpair", "kick test");
        using (var kick = new FileDescriptor(ours))
        using (new FileDescriptor(theirs))
            guest.Send(VhostUserRequest.SetVringKick, U64(1), Ack, kick.Value);

        Assert.Equal(1UL, guest.ReadU64Reply(VhostUserRequest.SetVringKick)); // REPLY_ACK failure status
        var fault = guest.Outcome();
        Assert.NotNull(fault);
        Assert.Equal(FaultRule.VhostUserBadDescriptor, fault!.Rule);
        Assert.Equal("vring[1].fd", fault.Field);
        Assert.Contains("eventfd", fault.Message, StringComparison.Ordinal);
        Assert.True(guest.ClosedByBackEnd(), "the back-end did not close the connection after the fault");
    }

    [Fact]
    public void VringKick_EventFd_IsAccepted()
    {
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-kick-" + Guid.NewGuid().ToString("N"));
        using var guest = new VhostUserTestFrontEnd(server);
        guest.CreateGuest();
        guest.Send(VhostUserRequest.GetProtocolFeatures);
        ulong protocol = guest.ReadU64Reply(VhostUserRequest.GetProtocolFeatures);
        guest.Send(VhostUserRequest.SetProtocolFeatures, U64(protocol & VhostUserFeatures.ReplyAck));
        guest.SendAcked(VhostUserRequest.SetVringKick, U64(1), Ack, guest.Doorbell!.PeerInbound.Value);
    }
}
