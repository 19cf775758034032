using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// GET_VRING_BASE: the back-end stops the ring (and the device, which needs both queues), replies with the
/// queue's next avail index (how far the device got through the guest's avail ring), keeps the ring stopped
/// until a new kick descriptor, and restarts where it stopped or at the base SET_VRING_BASE gives (VhostUserResumeTests).
/// </summary>
public sealed class VhostUserVringBaseTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    /// <summary>Sets up like virtio_uml, runs <paramref name="count"/> verified echo round trips from the guest's host device.</summary>
    private static void EchoTraffic(VhostUserTestFrontEnd guest, int count)
    {
        var host = guest.StartHost(guest.SetUpLikeVirtioUml());
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        var buffer = new byte[host.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            byte[] payload = [(byte)i, (byte)(i >> 8), 0x5A];
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
        }
    }

    [Fact]
    public void AfterEchoTraffic_ReportsEachQueuesNextAvailIndex_StopsTheDevice_AndTheRingStaysStopped()
    {
        using var rig = new VhostUserEchoServerRig("base");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        const int RoundTrips = 300; // more than the ring size (256): the indices have gone round once
        EchoTraffic(guest, RoundTrips);

        // Queue 1 carries the guest's messages: the device took every one the guest made available.
        var (index1, base1) = guest.GetVringBase(1);
        Assert.Equal(1u, index1);
        Assert.Equal(guest.ReadRingIndex(Vring1, used: false), base1);
        Assert.True(base1 >= RoundTrips, $"queue 1 base {base1} < {RoundTrips} messages taken");
        Assert.Equal(RpmsgDeviceState.Stopped, rig.Created[0].State);
        Assert.Contains("GET_VRING_BASE", rig.Removed[0], StringComparison.Ordinal);
        Assert.DoesNotContain("NOT STOPPED", rig.Removed[0], StringComparison.Ordinal);

        // Queue 0 holds the guest's receive buffers: the device took one per message it sent (announcement,
        // echoes) and returned each, so its base is the used index, short of the avail index (buffers still posted).
        var (index0, base0) = guest.GetVringBase(0);
        Assert.Equal(0u, index0);
        Assert.Equal(guest.ReadRingIndex(Vring0, used: true), base0);
        Assert.True(base0 > RoundTrips, $"queue 0 base {base0} <= {RoundTrips} echoes sent");
        Assert.NotEqual(guest.ReadRingIndex(Vring0, used: false), base0);

        // Stopped: a message the guest makes available now is not taken, and the base does not move.
        using (var late = guest.Host!.CreateEndpoint())
            late.SendTo(guest.Announced["rpmsg-echo"], [1, 2, 3], Wait);
        Assert.Equal((ushort)(base1 + 1), guest.ReadRingIndex(Vring1, used: false));
        Assert.Equal((1u, base1), guest.GetVringBase(1));
        Assert.Single(rig.Created);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void BeforeAnyTraffic_ReportsZero_RingStaysStoppedUntilANewKick_ThenAFreshDevice()
    {
        using var rig = new VhostUserEchoServerRig("base");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.SetUpLikeVirtioUml();
        Assert.Single(rig.Created);

        Assert.Equal((0u, 0u), guest.GetVringBase(0));
        Assert.Equal(RpmsgDeviceState.Stopped, rig.Created[0].State);
        // Enabling is not starting: the stopped ring needs a kick descriptor first.
        guest.SendAcked(VhostUserRequest.SetVringEnable, State(0, 1), Ack);
        Assert.Single(rig.Created);
        guest.SendAcked(VhostUserRequest.SetVringKick, U64(0), Ack, guest.Doorbell!.PeerInbound.Value);
        Assert.Equal(2, rig.Created.Count);
        Assert.NotSame(rig.Created[0], rig.Created[1]);
        Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[1].State);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// The guest sets its queues up again while an application thread fills one of its rx buffers in place for the
    /// stopped device: the fresh device would hand that buffer out again.
    /// </summary>
    private static void StopAndReadyTheQueuesAgain(VhostUserTestFrontEnd guest, bool lastAcked)
    {
        guest.GetVringBase(0);
        guest.GetVringBase(1);
        guest.Host!.Stop();
        guest.DrainKicks();
        foreach (uint q in new[] { 0u, 1u })
        {
            guest.SendAcked(VhostUserRequest.SetVringBase, State(q, 0), Ack);
            if (q == 0 || lastAcked)
                guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
            else
                guest.Send(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
        }
    }

    [Fact]
    public void ZeroCopyBufferOfTheStoppedDeviceOpen_FreshDeviceWaitsForIt()
    {
        TxBufferHolder? holder = null;
        bool waited = false;
        using var rig = new VhostUserEchoServerRig("zero-copy", configure: o => o.WaitingForZeroCopy = () =>
        {
            // On the server's thread, as the fresh device is about to wait: the buffer is still open here.
            waited = holder!.IsHolding;
            holder.Release();
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.StartHost(guest.SetUpLikeVirtioUml());
        guest.WaitForAnnouncement("rpmsg-echo");
        var first = rig.Created[0];
        using (holder = new TxBufferHolder(first.CreateEndpoint(0x700), Wait))
        {
            StopAndReadyTheQueuesAgain(guest, lastAcked: true);
            Assert.Equal(RpmsgDeviceState.Stopped, first.State);
        }
        // Made in the same request, once the buffer ended: no further request from the guest needed.
        Assert.True(waited, "the fresh device did not wait for the open buffer");
        Assert.Equal(2, rig.Created.Count);
        Assert.NotSame(first, rig.Created[1]);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void ZeroCopyBufferOfTheStoppedDeviceOutlivesTheDrain_ConnectionEndsNamingIt()
    {
        using var rig = new VhostUserEchoServerRig("zero-copy", configure: o => o.ZeroCopyDrainTimeout = TimeSpan.FromMilliseconds(100));
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.StartHost(guest.SetUpLikeVirtioUml());
        guest.WaitForAnnouncement("rpmsg-echo");
        using var holder = new TxBufferHolder(rig.Created[0].CreateEndpoint(0x700), Wait);
        StopAndReadyTheQueuesAgain(guest, lastAcked: false);
        Assert.Null(guest.Outcome());
        Assert.Single(rig.Created);
        Assert.Contains("1 zero-copy buffer(s) of the last device", rig.EndReason, StringComparison.Ordinal);
        holder.Release();
    }

    [Fact]
    public void AfterTraffic_RestartWithoutSetVringBase_ResumesWhereTheRingsStopped()
    {
        using var rig = new VhostUserEchoServerRig("base");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        EchoTraffic(guest, 10);
        var (_, base0) = guest.GetVringBase(0);
        var (_, base1) = guest.GetVringBase(1);
        Assert.NotEqual(0u, base0);

        // A stopped ring starts again with its kick descriptor, where it stopped (the spec: processing resumes).
        guest.SendAcked(VhostUserRequest.SetVringKick, U64(0), Ack, guest.Doorbell!.PeerInbound.Value);
        guest.SendAcked(VhostUserRequest.SetVringKick, U64(1), Ack, guest.Doorbell.PeerInbound.Value);
        Assert.Equal(2, rig.Created.Count);
        Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[1].State);
        // The fresh device goes on from there (it may announce its services on queue 0 again; the guest sent nothing).
        Assert.True(guest.GetVringBase(0).Number - base0 <= 1, "queue 0 did not resume at its base");
        Assert.Equal((1u, base1), guest.GetVringBase(1));
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void AfterTraffic_SetVringBaseZeroThenNewKicks_FreshDevice()
    {
        using var rig = new VhostUserEchoServerRig("base");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        EchoTraffic(guest, 10);
        Assert.NotEqual(0u, guest.GetVringBase(0).Number);
        Assert.NotEqual(0u, guest.GetVringBase(1).Number);
        // The guest's driver stops too, and its old kicks are consumed: the new device stays idle on the old rings.
        guest.Host!.Stop();
        guest.DrainKicks();

        foreach (uint q in new[] { 0u, 1u })
        {
            guest.SendAcked(VhostUserRequest.SetVringBase, State(q, 0), Ack);
            guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
        }
        Assert.Equal(2, rig.Created.Count);
        Assert.NotSame(rig.Created[0], rig.Created[1]);
        Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[1].State);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
        Assert.Equal(RpmsgDeviceState.Stopped, rig.Created[1].State);
    }

    [Fact]
    public void QueueThatDoesNotExist_FaultsNamingIt()
    {
        using var rig = new VhostUserEchoServerRig("base");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.Send(VhostUserRequest.GetVringBase, State(2, 0));
        var fault = guest.Outcome();
        Assert.NotNull(fault);
        Assert.Equal(FaultRule.VhostUserVringIndex, fault!.Rule);
        Assert.Equal(2UL, fault.Value);
        Assert.True(guest.ClosedByBackEnd(), "the back-end did not close the connection after the fault");
    }
}
