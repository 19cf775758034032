using VirtioRpmsg.Interop;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// Requests a front-end sends while the device runs or when it sets its queues up again. QEMU's generic
/// vhost-user device (vhost-user-base) sends SET_VRING_CALL for every queue after the rings were enabled, and again
/// whenever the guest masks or unmasks an interrupt vector (vhost_virtqueue_mask); DPDK and rust-vmm back-ends just
/// switch the call descriptor. On a guest driver reload QEMU stops the rings (enable 0, GET_VRING_BASE) and sets them
/// up again from index 0 (NUM, BASE 0, ADDR, KICK, CALL, enable 1).
/// </summary>
public sealed class VhostUserMidStreamTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    private static void Echo(RpmsgDevice host, uint echo, int count, int round)
    {
        using var ept = host.CreateEndpoint();
        var buffer = new byte[host.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            byte[] payload = [(byte)round, (byte)i, 0xA5];
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
        }
    }

    [Fact]
    public void SetVringCallWhileRunning_SwitchesTheDescriptor_DeviceAndSessionGoOn()
    {
        using var rig = new VhostUserEchoServerRig("call");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        var host = guest.StartHost(guest.SetUpLikeVirtioUml());
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        Echo(host, echo, 20, 0);

        // Queue 0's interrupts now go to a new eventfd (QEMU: the vector was masked); queue 1's still reach the guest.
        NativeCallException.ThrowIfError(Native.EventFd(out int raw), "eventfd", "test");
        using var masked = new FileDescriptor(raw);
        guest.SendAcked(VhostUserRequest.SetVringCall, U64(0), Ack, masked.Value);

        Echo(host, echo, 20, 1);
        Assert.Single(rig.Created);
        Assert.Empty(rig.Removed);
        Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[0].State);
        Span<byte> counter = stackalloc byte[8];
        Assert.True(Native.Read(masked.Value, counter) == 8, "the device never signalled the new call descriptor");

        // And back (unmasked): the guest's own descriptor again.
        guest.SendAcked(VhostUserRequest.SetVringCall, U64(0), Ack, guest.Doorbell!.PeerOutbound.Value);
        Echo(host, echo, 20, 2);
        Assert.Single(rig.Created);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>QEMU's vhost_dev_stop then vhost_dev_start after a guest reset (vhost-user-base's order: CALL after enable).</summary>
    private static void ReloadLikeQemu(VhostUserTestFrontEnd guest, ulong offered)
    {
        foreach (uint q in new[] { 0u, 1u })
            guest.SendAcked(VhostUserRequest.SetVringEnable, State(q, 0), Ack);
        foreach (uint q in new[] { 0u, 1u })
        {
            guest.Send(VhostUserRequest.GetVringBase, State(q, 0));
            Assert.Equal(q, guest.ReadStateReply(VhostUserRequest.GetVringBase).Index);
        }
        guest.Host!.Dispose(); // the guest's driver goes; its rings are cleared by the next one
        guest.DrainKicks();
        guest.Announced.Clear();
        guest.SendAcked(VhostUserRequest.SetFeatures, U64(offered), Ack);
        guest.SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), Ack, guest.Memory!.Descriptor!.Value);
        foreach (var (q, at) in new[] { (0u, Vring0), (1u, Vring1) })
        {
            guest.SendAcked(VhostUserRequest.SetVringNum, State(q, Num), Ack);
            guest.SendAcked(VhostUserRequest.SetVringBase, State(q, 0), Ack);
            guest.SendAcked(VhostUserRequest.SetVringAddr, RingAt(q, at), Ack);
            guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
        }
        foreach (uint q in new[] { 0u, 1u })
            guest.SendAcked(VhostUserRequest.SetVringEnable, State(q, 1), Ack);
        foreach (uint q in new[] { 0u, 1u })
            guest.SendAcked(VhostUserRequest.SetVringCall, U64(q), Ack, guest.Doorbell!.PeerOutbound.Value);
    }

    [Fact]
    public void GuestDriverReloadedRepeatedly_EachTimeOneFreshDevice_AnnouncedOnce_EchoWorks()
    {
        using var rig = new VhostUserEchoServerRig("reload");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        Echo(host, guest.WaitForAnnouncement("rpmsg-echo"), 10, 0);
        const int Reloads = 4;
        for (int round = 1; round <= Reloads; round++)
        {
            ReloadLikeQemu(guest, offered);
            host = guest.StartHost(offered);
            uint echo = guest.WaitForAnnouncement("rpmsg-echo");
            Echo(host, echo, 10, round);
            Assert.Single(guest.Announced);
            Assert.Equal(round + 1, rig.Created.Count);
            Assert.All(rig.Created.Take(round), d => Assert.Equal(RpmsgDeviceState.Stopped, d.State));
            Assert.NotEqual(RpmsgDeviceState.Stopped, rig.Created[round].State);
        }
        Assert.All(rig.Removed, r => Assert.DoesNotContain("NOT STOPPED", r, StringComparison.Ordinal));
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// A ring racing the switch: fails when a switch does not take (the old, closed descriptor keeps being rung) or a
    /// ring that found the old one closed gives up instead of writing the new one (that window is narrow: a bounded loop).
    /// </summary>
    [Fact]
    public void DoorbellCallSwitchedWhileRinging_EveryRingDeliversToALiveDescriptor()
    {
        NativeCallException.ThrowIfError(Native.EventFd(out int k), "eventfd", "test");
        NativeCallException.ThrowIfError(Native.EventFd(out int c), "eventfd", "test");
        using var kick = new FileDescriptor(k);
        var call = new FileDescriptor(c);
        using var doorbell = new VhostUserDoorbell([kick], [call], "call-switch");
        int undelivered = 0;
        using var stop = new CancellationTokenSource();
        var ringer = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
                if (!doorbell.Ring())
                    Interlocked.Increment(ref undelivered);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        for (int i = 0; i < 2000; i++)
        {
            // The back-end's order: the new descriptor in place, then the old one closed.
            NativeCallException.ThrowIfError(Native.EventFd(out int next), "eventfd", "test");
            var fresh = new FileDescriptor(next);
            doorbell.ReplaceCall(0, fresh);
            call.Dispose();
            call = fresh;
        }
        stop.Cancel();
        Assert.True(ringer.Wait(Wait), "the ringing thread did not finish");
        Assert.True(doorbell.Ring(), "the last descriptor took no interrupt");
        call.Dispose();
        Assert.Equal(0, Volatile.Read(ref undelivered));
    }
}
