using System.Buffers.Binary;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.Review;

/// <summary>Review (vhost4) of the vhost-user resume: what the guest's driver sees when a stopped device comes back.</summary>
public sealed class Vhost4ResumeReviewTests
{
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    /// <summary>
    /// A host tx buffer (vring 1) the remote application holds when the rings stop is returned by the resumed device as
    /// it is created: used.idx moves, but nobody tells the guest. A guest driver that waits for a free tx buffer (all of
    /// them sent) sleeps until its next interrupt, which may never come (the remote has nothing to say). The rings here
    /// restart with their kick descriptors only (the call descriptors stay, as the specification allows), so no
    /// SET_VRING_CALL rings for it. The resumed device must interrupt the guest when it publishes used entries.
    /// </summary>
    [Fact]
    public void HostTxBufferHeldAcrossStop_ResumedDeviceReturnsIt_AndInterruptsTheGuest()
    {
        var devices = new List<RpmsgDevice>();
        var held = new TaskCompletionSource<RpmsgRxBuffer>(TaskCreationOptions.RunContinuationsAsynchronously);
        // No services: nothing else goes out on vring 0 that could interrupt the guest by chance.
        using var rig = new VhostUserEchoServerRig("vhost4-call", configure: o => o.DeviceCreated = d =>
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
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        using (var ept = host.CreateEndpoint())
            ept.SendTo(0x778, [1, 2, 3], Wait);
        Assert.True(held.Task.Wait(Wait), "the remote never received the guest's message");
        var (_, base1) = guest.StopRings();
        Assert.Equal(1u, base1);
        Assert.Equal(0, guest.ReadRingIndex(Vring1, used: true)); // held: not returned yet
        held.Task.Result.Dispose();
        // The guest's driver stops reading its interrupts (so this test sees them); any pending one is consumed.
        host.Stop();
        guest.DrainInterrupts();
        guest.RestartWithKicksOnly();
        Assert.Equal(2, devices.Count);
        // It gives the buffer back as it links up (its transport is made then), on its dispatcher thread: waited for.
        Assert.True(devices[1].WaitForLinkUp(Wait), $"the resumed device is {devices[1].State}");
        Assert.Equal(1, guest.ReadRingIndex(Vring1, used: true)); // the resumed device gave the buffer back
        Assert.True(guest.TakeInterrupt(), "the resumed device published a used entry on vring 1 but never interrupted the guest");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// A resumed device's application serves the same service at another address (addresses are the new device's
    /// to allocate). The guest's driver lives on and still has the channel the last device announced: the resumed
    /// device announces the new address, and the old channel stays (Linux's virtio_rpmsg_bus, like our host role,
    /// only refuses an announcement of the same name and address), bound to an address nothing serves. The last
    /// device's announcements the resumed one does not repeat must be withdrawn (a DESTROY each).
    /// </summary>
    [Fact]
    public void ResumedDeviceServesTheServiceAtAnotherAddress_TheGuestKeepsOneChannel()
    {
        int created = 0;
        using var rig = new VhostUserEchoServerRig("vhost4-renamed", configure: o => o.DeviceCreated = d =>
        {
            uint address = 0x500 + (uint)Interlocked.Increment(ref created);
            d.CreateNamedEndpoint("rpmsg-echo", address, (ept, source, payload) => ept.SendTo(source, payload, Wait));
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        var destroyed = new System.Collections.Concurrent.ConcurrentQueue<(string, uint)>();
        host.ServiceDestroyed += (name, address) => destroyed.Enqueue((name, address));
        Assert.Equal(0x501u, guest.WaitForAnnouncement("rpmsg-echo"));
        var (base0, base1) = guest.StopRings();
        guest.StartLikeQemu(offered, base0, base1);
        Assert.True(SpinWait.SpinUntil(() => guest.Announced["rpmsg-echo"] == 0x502, Wait), "the resumed device never announced its service");
        Assert.True(SpinWait.SpinUntil(() => host.UnboundServiceCount == 1, TimeSpan.FromSeconds(10)),
            $"the guest has {host.UnboundServiceCount} 'rpmsg-echo' services after the resume (destroys seen: {string.Join(", ", destroyed)}): the last device's 0x501 was never withdrawn");
        Assert.Equal([("rpmsg-echo", 0x501u)], destroyed.ToArray());
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// Suspicion refuted: a later SET_FEATURES that carries VHOST_USER_F_PROTOCOL_FEATURES does not disable the rings.
    /// QEMU's vhost-user.rst, as clarified in 2023 ("Clarify enabling/disabling vrings"): every ring starts disabled,
    /// SET_FEATURES without the bit is one way to enable them all, and SET_FEATURES never disables one (QEMU sends it
    /// on running rings, e.g. to switch dirty logging; a back-end that disabled the rings there halted the device).
    /// The device is dropped (its features may change) and the next one resumes at once, with no SET_VRING_ENABLE.
    /// </summary>
    [Fact]
    public void SetFeaturesWithProtocolFeaturesOnRunningRings_RingsStayEnabled_DeviceResumesAtOnce()
    {
        using var rig = new VhostUserEchoServerRig("vhost4-features");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        uint echo = guest.WaitForAnnouncement("rpmsg-echo");
        Assert.NotEqual(0UL, offered & VhostUserFeatures.ProtocolFeatures);
        using var ept = host.CreateEndpoint();
        var buffer = new byte[host.MaxPayload];
        for (byte round = 0; round < 3; round++)
        {
            guest.SendAcked(VhostUserRequest.SetFeatures, U64(offered), Ack);
            Assert.Equal(round + 2, rig.Created.Count);
            Assert.True(rig.Created[^1].WaitForLinkUp(Wait), $"the device made after SET_FEATURES is {rig.Created[^1].State}");
            ept.SendTo(echo, [round, 0x44], Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(new byte[] { round, 0x44 }, buffer.AsSpan(0, reply.Length).ToArray());
        }
        Assert.Equal(1, host.UnboundServiceCount);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// Suspicion (1) refuted: a hostile guest posts the same vring 1 head twice while the remote holds the first (a
    /// zero-copy receiver). The remote breaks at once, naming it; the device resumed after the stop answers each of the
    /// two postings with one used entry (used.idx ends at the base, no entry beyond). The head appears twice because the
    /// guest made it available twice; a seen-set would leave the second posting unanswered. (On vring 0 a second
    /// adoption is refused: there it would put two messages into one buffer.)
    /// </summary>
    [Fact]
    public void HostileGuestPostsOneHostTxHeadTwice_HeldAcrossStop_ResumedDeviceAnswersEachPostingOnce()
    {
        var held = new List<RpmsgRxBuffer>();
        var devices = new List<RpmsgDevice>();
        using var rig = new VhostUserEchoServerRig("vhost4-twice", configure: o => o.DeviceCreated = d =>
        {
            devices.Add(d); // on the server's thread, before the device starts
            d.CreateZeroCopyEndpoint(0x778, (_, buffer) =>
            {
                buffer.Hold();
                lock (held)
                    held.Add(buffer);
            });
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        using (var ept = host.CreateEndpoint())
            ept.SendTo(0x778, [9, 9], Wait);
        Assert.True(SpinWait.SpinUntil(() => { lock (held) return held.Count == 1; }, Wait));
        host.Stop(); // from here the test writes the guest's rings itself
        var layout = new VirtioRpmsg.Virtio.VringLayout(Num, 4096);
        ushort head;
        ulong avail = Vring1 + (ulong)layout.AvailOffset;
        using (var lease = guest.Memory!.Acquire())
        {
            head = BinaryPrimitives.ReadUInt16LittleEndian(lease.GetSpan(guest.Memory.Translate(avail + 4, 2), 2));
            BinaryPrimitives.WriteUInt16LittleEndian(lease.GetSpan(guest.Memory.Translate(avail + 6, 2), 2), head); // the same head again
            Thread.MemoryBarrier();
            BinaryPrimitives.WriteUInt16LittleEndian(lease.GetSpan(guest.Memory.Translate(avail + 2, 2), 2), 2);
        }
        Span<byte> kick = stackalloc byte[8];
        kick[0] = 1;
        Assert.Equal(8, Native.Write(guest.Doorbell!.PeerInbound.Value, kick));
        // The remote refuses it: a head delivered again while the application holds it breaks the device, with the reason.
        Assert.True(SpinWait.SpinUntil(() => devices[0].State == RpmsgDeviceState.Broken, Wait), $"the remote is {devices[0].State}");
        Assert.Contains("delivered again while the application still holds it", devices[0].Fault!.Message, StringComparison.Ordinal);
        Assert.Single(held);
        var (base0, base1) = guest.StopRings();
        held[0].Dispose();
        guest.StartLikeQemu(offered, base0, base1);
        Assert.Equal(2, devices.Count);
        Assert.True(devices[1].WaitForLinkUp(Wait), $"the resumed device is {devices[1].State}"); // linked up on its own thread
        Assert.Equal(2u, base1);
        Assert.Equal(2, guest.ReadRingIndex(Vring1, used: true)); // one used entry per posting, no more, no less
        var layout1 = new VirtioRpmsg.Virtio.VringLayout(Num, 4096);
        using (var lease = guest.Memory!.Acquire())
        {
            ulong used = Vring1 + (ulong)layout1.UsedOffset + 4;
            for (int i = 0; i < 2; i++)
                Assert.Equal(head, BinaryPrimitives.ReadUInt32LittleEndian(lease.GetSpan(guest.Memory.Translate(used + 8 * (ulong)i, 4), 4)));
        }
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// Re-review (rereview-f): the interrupt rung as the resumed device is created came before a remote-role device took
    /// the last device's in-flight vring 1 heads over (at link-up, when its transport is made: on its dispatcher thread or
    /// at its first Poll). A driver that took that interrupt, found nothing and slept was never told about the buffer.
    /// </summary>
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
        guest.DrainInterrupts();
        guest.RestartWithKicksOnly();
        RpmsgDevice resumed;
        lock (devices)
            resumed = devices[^1];
        Assert.Equal(2, devices.Count);
        // The driver takes what interrupts it got and looks at the ring: nothing yet (the device has not linked up).
        guest.DrainInterrupts();
        Assert.Equal(0, guest.ReadRingIndex(Vring1, used: true));
        resumed.Poll(); // link-up: the resumed device takes the held head over and gives it back
        Assert.Equal(RpmsgDeviceState.Running, resumed.State);
        Assert.Equal(1, guest.ReadRingIndex(Vring1, used: true));
        Assert.True(guest.TakeInterrupt(), "the resumed device gave the held buffer back at link-up, after its only interrupt: the guest is never told");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
