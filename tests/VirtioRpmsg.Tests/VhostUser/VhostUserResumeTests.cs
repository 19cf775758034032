using System.Buffers.Binary;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// Rings that carried traffic, stopped and started again while the guest's driver lives on: QEMU's VM stop/cont and
/// vhost_dev_stop/start (GET_VRING_BASE, then SET_FEATURES, SET_MEM_TABLE, NUM, BASE = the index GET_VRING_BASE gave,
/// ADDR, KICK, ENABLE, CALL), and memory hotplug (SET_MEM_TABLE on running rings). The next device resumes each ring
/// at its base and at the guest's used.idx: messages the guest queued meanwhile are delivered, none twice.
/// </summary>
public sealed class VhostUserResumeTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    private static void Echo(RpmsgEndpoint ept, uint echo, int count, byte round)
    {
        var buffer = new byte[ept.Device.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            byte[] payload = [round, (byte)i, 0x77];
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
        }
    }

    [Fact]
    public void StopAndResumeAtTheReportedBase_Repeatedly_MessagesQueuedWhileStoppedAreDelivered_EchoGoesOn()
    {
        using var rig = new VhostUserEchoServerRig("resume");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        Echo(ept, echo, 10, 0);
        var buffer = new byte[host.MaxPayload];
        for (byte round = 1; round <= 3; round++)
        {
            var (base0, base1) = guest.StopRings();
            Assert.NotEqual(0u, base1);
            // While the rings are stopped the guest goes on sending: the messages wait on its avail ring.
            for (byte i = 0; i < 3; i++)
                ept.SendTo(echo, [0xEE, round, i], Wait);
            Assert.Equal((ushort)(base1 + 3), guest.ReadRingIndex(Vring1, used: false));

            guest.StartLikeQemu(offered, base0, base1);
            Assert.Equal(round + 1, rig.Created.Count);
            Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[round].State);
            // Each queued message echoed exactly once, in order; then the session goes on.
            for (byte i = 0; i < 3; i++)
            {
                var reply = ept.Receive(buffer, Wait);
                Assert.Equal(new byte[] { 0xEE, round, i }, buffer.AsSpan(0, reply.Length).ToArray());
            }
            Echo(ept, echo, 10, round);
        }
        Assert.Equal(RpmsgDeviceState.Running, host.State);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void NewMemTableWhileRunning_DeviceResumesOverTheNewMapping_EchoGoesOn()
    {
        using var rig = new VhostUserEchoServerRig("hotplug");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        Echo(ept, echo, 10, 0);
        // Memory hotplug: QEMU sends the new table (with NEED_REPLY) on running rings.
        guest.SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), Ack, guest.Memory!.Descriptor!.Value);
        Assert.Equal(2, rig.Created.Count);
        Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[1].State);
        Echo(ept, echo, 10, 1);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Theory]
    [InlineData(false)] // the base is more than a ring ahead of the guest's used.idx
    [InlineData(true)]  // the guest's avail.idx is more than a ring ahead of the base
    public void ResumeAtABaseTheRingStateCannotHave_FaultsNamingTheQueueAndBase(bool availRunsAhead)
    {
        using var rig = new VhostUserEchoServerRig("resume");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using (var ept = host.CreateEndpoint())
            Echo(ept, echo, 3, 0);
        guest.GetVringBase(0);
        uint base1 = guest.GetVringBase(1).Number;
        Assert.NotEqual(0u, base1);
        uint bad = base1;
        if (availRunsAhead)
            WriteAvailIndex(guest, Vring1, (ushort)(base1 + Num + 1));
        else
            bad = (ushort)(base1 + Num + 1);
        guest.SendAcked(VhostUserRequest.SetVringBase, State(1, bad), Ack);
        guest.SendAcked(VhostUserRequest.SetVringKick, U64(0), Ack, guest.Doorbell!.PeerInbound.Value);
        guest.Send(VhostUserRequest.SetVringKick, U64(1), Ack, guest.Doorbell.PeerInbound.Value);
        Assert.Equal(1UL, guest.ReadU64Reply(VhostUserRequest.SetVringKick));
        var fault = guest.Outcome();
        Assert.NotNull(fault);
        Assert.Equal(FaultRule.VhostUserVringSize, fault!.Rule);
        Assert.Equal("vring[1].base", fault.Field);
        Assert.Equal((ulong)bad, fault.Value);
        Assert.Contains($"cannot resume at avail index {bad}", fault.Message, StringComparison.Ordinal);
        Assert.True(guest.ClosedByBackEnd(), "the back-end did not close the connection after the fault");
        Assert.Single(rig.Created);
    }

    private static void WriteAvailIndex(VhostUserTestFrontEnd guest, ulong ring, ushort value)
    {
        var layout = new VirtioRpmsg.Virtio.VringLayout(Num, 4096);
        ulong at = ring + (ulong)layout.AvailOffset + 2;
        using var lease = guest.Memory!.Acquire();
        BinaryPrimitives.WriteUInt16LittleEndian(lease.GetSpan(guest.Memory.Translate(at, 2), 2), value);
    }
}
