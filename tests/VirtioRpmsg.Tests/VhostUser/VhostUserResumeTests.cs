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

    private static uint GetVringBase(VhostUserTestFrontEnd guest, uint q)
    {
        guest.Send(VhostUserRequest.GetVringBase, State(q, 0));
        var (index, number) = guest.ReadStateReply(VhostUserRequest.GetVringBase);
        Assert.Equal(q, index);
        return number;
    }

    /// <summary>QEMU's vhost_dev_start after vhost_dev_stop with the driver still running: each ring resumes at its base.</summary>
    private static void StartLikeQemu(VhostUserTestFrontEnd guest, ulong offered, uint base0, uint base1)
    {
        guest.SendAcked(VhostUserRequest.SetFeatures, U64(offered), Ack);
        guest.SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), Ack, guest.Memory!.Descriptor!.Value);
        foreach (var (q, at, b) in new[] { (0u, Vring0, base0), (1u, Vring1, base1) })
        {
            guest.SendAcked(VhostUserRequest.SetVringNum, State(q, Num), Ack);
            guest.SendAcked(VhostUserRequest.SetVringBase, State(q, b), Ack);
            guest.SendAcked(VhostUserRequest.SetVringAddr, RingAt(q, at), Ack);
            guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
        }
        foreach (uint q in new[] { 0u, 1u })
            guest.SendAcked(VhostUserRequest.SetVringEnable, State(q, 1), Ack);
        foreach (uint q in new[] { 0u, 1u })
            guest.SendAcked(VhostUserRequest.SetVringCall, U64(q), Ack, guest.Doorbell!.PeerOutbound.Value);
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
            foreach (uint q in new[] { 0u, 1u })
                guest.SendAcked(VhostUserRequest.SetVringEnable, State(q, 0), Ack);
            uint base0 = GetVringBase(guest, 0), base1 = GetVringBase(guest, 1);
            Assert.NotEqual(0u, base1);
            // While the rings are stopped the guest goes on sending: the messages wait on its avail ring.
            for (byte i = 0; i < 3; i++)
                ept.SendTo(echo, [0xEE, round, i], Wait);
            Assert.Equal((ushort)(base1 + 3), guest.ReadRingIndex(Vring1, used: false));

            StartLikeQemu(guest, offered, base0, base1);
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
        GetVringBase(guest, 0);
        uint base1 = GetVringBase(guest, 1);
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
