using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-f) of e63bf71 (a resumed device interrupts the live driver once): the interrupt is rung as the
/// device is created, but a remote-role device takes over the last device's in-flight vring 1 heads (and publishes them
/// as used) only at link-up, when its transport is made: on its dispatcher thread or at its first Poll, after that ring.
/// A driver that took the interrupt, found nothing and slept is never told about the buffer given back.
/// </summary>
public sealed class RereviewFResumeInterruptTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;


    [Fact]
    public void ResumedDeviceLinksUpAfterItWasCreated_TheGuestIsInterruptedAfterTheHeldBufferCameBack()
    {
        var devices = new List<RpmsgDevice>();
        var held = new TaskCompletionSource<RpmsgRxBuffer>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var rig = new VhostUserEchoServerRig("rereview-f-call", configure: o =>
        {
            // Caller-poll: a device links up at its first Poll, so the test decides when (a dispatcher thread would do it
            // at some point after the device was created).
            o.Device = new RpmsgDeviceOptions { Name = "vhost-remote", SendTimeout = Wait, WaitStrategy = RpmsgWaitStrategy.CallerPoll };
            o.DeviceCreated = d =>
            {
                lock (devices)
                {
                    devices.Add(d);
                    if (devices.Count == 1)
                        d.CreateZeroCopyEndpoint(0x778, (_, buffer) =>
                        {
                            buffer.Hold();
                            held.TrySetResult(buffer);
                        });
                }
            };
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        using (var ept = host.CreateEndpoint())
            ept.SendTo(0x778, [1, 2, 3], Wait);
        RpmsgDevice first;
        lock (devices)
            first = devices[0];
        var deadline = Deadline.Within(Wait);
        while (!held.Task.IsCompleted && !deadline.IsExpired)
            first.Poll();
        Assert.True(held.Task.IsCompleted, "the remote never received the guest's message");
        var (_, base1) = guest.StopRings();
        Assert.Equal(1u, base1);
        held.Task.Result.Dispose();
        host.Stop(); // the guest's driver stops reading its interrupts (so this test sees them)
        while (guest.TakeInterrupt())
        {
        }

        foreach (uint q in new[] { 0u, 1u })
        {
            guest.SendAcked(VhostUserRequest.SetVringKick, U64(q), Ack, guest.Doorbell!.PeerInbound.Value);
            guest.SendAcked(VhostUserRequest.SetVringEnable, State(q, 1), Ack);
        }
        RpmsgDevice resumed;
        lock (devices)
            resumed = devices[^1];
        Assert.Equal(2, devices.Count);
        // The driver takes what interrupts it got and looks at the ring: nothing yet (the device has not linked up).
        while (guest.TakeInterrupt())
        {
        }
        Assert.Equal(0, guest.ReadRingIndex(Vring1, used: true));
        resumed.Poll(); // link-up: the resumed device takes the held head over and gives it back
        Assert.Equal(RpmsgDeviceState.Running, resumed.State);
        Assert.Equal(1, guest.ReadRingIndex(Vring1, used: true));
        Assert.True(guest.TakeInterrupt(), "the resumed device gave the held buffer back at link-up, after its only interrupt: the guest is never told");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
