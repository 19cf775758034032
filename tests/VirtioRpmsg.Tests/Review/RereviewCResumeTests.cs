using System.Buffers.Binary;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.Review;

/// <summary>Re-review (rereview-c) of the vhost-user resume: buffers the last device held when the rings stopped.</summary>
public sealed class RereviewCResumeTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    private static void Echo(RpmsgEndpoint ept, uint echo, int count)
    {
        var buffer = new byte[ept.Device.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            byte[] payload = [(byte)i, 0x55];
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
        }
    }

    /// <summary>
    /// A host rx buffer (vring 0) the device took and then gave back unsent (a zero-copy buffer disposed) sits on the
    /// device's cancelled stack, taken from the guest but not returned. The rings stop (GET_VRING_BASE counts it as
    /// processed) and resume at that base: the new device never learns of it, so the guest's buffer is gone for good,
    /// one more at each stop/cont (the guest's rpmsg driver runs out of rx buffers after a ring's worth).
    /// At quiescence every host rx buffer the device took must be back on the used ring.
    /// </summary>
    [Fact]
    public void TxBufferGivenBackUnsent_StopAndResume_TheGuestGetsItBack()
    {
        using var rig = new VhostUserEchoServerRig("rereview-c-inflight");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        Echo(ept, echo, 3);
        // The remote application takes a tx buffer and gives it back unsent.
        var remote = rig.Created[0];
        using (var own = remote.CreateEndpoint(0x777, (_, _, _) => { }))
        {
            var tx = own.GetTxBuffer(Wait);
            tx.Dispose();
        }
        for (int round = 1; round <= 2; round++)
        {
            var (base0, base1) = guest.StopRings();
            guest.StartLikeQemu(offered, base0, base1);
            Echo(ept, echo, 3);
        }
        guest.DisableRings();
        Assert.Equal(1, host.UnboundServiceCount); // re-announced by each resumed device: still one service
        uint taken = guest.GetVringBase(0).Number;
        ushort returned = guest.ReadRingIndex(Vring0, used: true);
        uint taken1 = guest.GetVringBase(1).Number;
        ushort returned1 = guest.ReadRingIndex(Vring1, used: true);
        Assert.True(taken1 == returned1, $"vring 1: took up to {taken1}, returned {returned1}");
        Assert.True(taken == returned, $"the device took host rx buffers up to avail index {taken} but returned only {returned}: {(ushort)(taken - returned)} guest buffer(s) lost across the stops");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>A guest that rewrites an in-flight buffer's descriptor while the rings are stopped loses that buffer; the
    /// resumed device neither writes through it nor faults.</summary>
    [Fact]
    public void InFlightDescriptorRewrittenWhileStopped_ResumedDeviceSkipsIt_EchoGoesOn()
    {
        using var rig = new VhostUserEchoServerRig("rereview-c-inflight-hostile");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        Echo(ept, echo, 3);
        using (var own = rig.Created[0].CreateEndpoint(0x777, (_, _, _) => { }))
            own.GetTxBuffer(Wait).Dispose();
        var (base0, base1) = guest.StopRings();
        // The head the device holds is the last one it took: point its descriptor outside guest memory.
        var layout = new VirtioRpmsg.Virtio.VringLayout(Num, 4096);
        using (var lease = guest.Memory!.Acquire())
        {
            ulong entry = Vring0 + (ulong)layout.AvailOffset + 4 + 2 * ((base0 - 1) % (uint)Num);
            ushort head = BinaryPrimitives.ReadUInt16LittleEndian(lease.GetSpan(guest.Memory.Translate(entry, 2), 2));
            BinaryPrimitives.WriteUInt64LittleEndian(lease.GetSpan(guest.Memory.Translate(Vring0 + 16UL * head, 8), 8), 0xDEAD_0000_0000UL);
        }
        guest.StartLikeQemu(offered, base0, base1);
        Echo(ept, echo, 5);
        Assert.Equal(RpmsgDeviceState.Running, rig.Created[^1].State);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// QEMU's stop/cont before any message went either way (no service announced yet: the application creates its
    /// endpoints once the link is up): both rings resume at base 0, so the resumed device took the driver for one still
    /// starting and waited for a first kick. The guest's driver kicked once, at its start, and waits for an
    /// announcement: neither side ever moves. A device resumed on rings whose last device saw the driver ready must
    /// count it as ready too, whatever the bases.
    /// </summary>
    [Fact]
    public void StopAndResumeBeforeAnyTraffic_ResumedDeviceSeesTheDriverReady()
    {
        var devices = new List<RpmsgDevice>();
        using var rig = new VhostUserEchoServerRig("rereview-c-idle", configure: o => o.DeviceCreated = d =>
        {
            lock (devices)
                devices.Add(d);
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        guest.StartHost(offered);
        Assert.True(devices[0].WaitForLinkUp(Wait), "the first device never saw the driver ready");
        var (base0, base1) = guest.StopRings();
        Assert.Equal((0u, 0u), (base0, base1));
        guest.StartLikeQemu(offered, base0, base1);
        Assert.Equal(2, devices.Count);
        Assert.True(devices[1].WaitForLinkUp(Wait), $"the resumed device is still {devices[1].State}: it waits for a kick the running driver will not send");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>A host tx buffer (vring 1) the remote application holds (zero-copy receive) when the rings stop: at
    /// quiescence after the resume every buffer the device took must be back on the guest's used ring.</summary>
    [Fact]
    public void RxBufferHeldAcrossStop_StopAndResume_TheGuestGetsItBack()
    {
        using var rig = new VhostUserEchoServerRig("rereview-c-held-rx");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        using var ept = host.CreateEndpoint();
        Echo(ept, echo, 3);
        var held = new TaskCompletionSource<RpmsgRxBuffer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var own = rig.Created[0].CreateZeroCopyEndpoint(0x778, (_, buffer) =>
        {
            buffer.Hold();
            held.TrySetResult(buffer);
        });
        ept.SendTo(0x778, [1, 2, 3], Wait);
        Assert.True(held.Task.Wait(Wait));
        var (base0, base1) = guest.StopRings();
        held.Task.Result.Dispose(); // the application lets go (after the stop)
        own.Dispose();
        guest.StartLikeQemu(offered, base0, base1);
        Echo(ept, echo, 3);
        guest.DisableRings();
        guest.GetVringBase(0);
        uint taken1 = guest.GetVringBase(1).Number;
        ushort returned1 = guest.ReadRingIndex(Vring1, used: true);
        Assert.True(taken1 == returned1, $"the device took host tx buffers up to avail index {taken1} but returned only {returned1}");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
