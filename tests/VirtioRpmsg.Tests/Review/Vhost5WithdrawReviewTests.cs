using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (vhost5) of what a resumed vhost-user device tells the guest's driver about the services the last device
/// announced: the driver keeps every channel until a DESTROY reaches it, whichever device sends it.
/// </summary>
public sealed class Vhost5WithdrawReviewTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    /// <summary>
    /// The resumed device serves "svc" at the same address again, so it does not withdraw it, and queues its CREATE;
    /// the application disposes it before that CREATE goes out (here in its StateChanged(Running) handler, which runs
    /// between the two). Dropping the CREATE is right for an endpoint the driver never heard of, but this driver has the
    /// channel from the last device: without a DESTROY it keeps a channel to nothing, on this device and every later one.
    /// </summary>
    [Fact]
    public void ServiceServedAgainAtLinkUp_DisposedBeforeItsCreateWentOut_IsWithdrawn()
    {
        int created = 0;
        using var rig = new VhostUserEchoServerRig("vhost5-queued", configure: o => o.DeviceCreated = d =>
        {
            int n = Interlocked.Increment(ref created);
            var svc = d.CreateNamedEndpoint("svc", 0x700, null);
            if (n == 2)
                d.StateChanged += (_, state) =>
                {
                    if (state == RpmsgDeviceState.Running)
                        svc.Dispose();
                };
            // Announced after everything else this device sends at link-up: once the guest has it, the rest arrived.
            d.CreateNamedEndpoint("marker", 0x600 + (uint)n, null);
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        var destroyed = new ConcurrentQueue<(string, uint)>();
        host.ServiceDestroyed += (name, address) => destroyed.Enqueue((name, address));
        Assert.Equal(0x700u, guest.WaitForAnnouncement("svc"));
        Assert.Equal(0x601u, guest.WaitForAnnouncement("marker"));
        var (base0, base1) = guest.StopRings();
        guest.StartLikeQemu(offered, base0, base1);
        Assert.True(SpinWait.SpinUntil(() => guest.Announced["marker"] == 0x602, Wait), "the resumed device never announced its marker");
        Assert.Contains(("svc", 0x700u), destroyed);
        Assert.DoesNotContain("svc", host.AnnouncedServiceNames);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// The resumed device withdraws "old" (it no longer serves it) at link-up, but the guest's driver has no rx buffer
    /// free: the DESTROY waits, and the guest stops the rings again. The next device must still withdraw "old": the
    /// driver never got the DESTROY. It was forgotten: the stop recorded only the device's own announcements.
    /// </summary>
    [Fact]
    public void WithdrawalStillWaitingWhenTheRingsStop_IsCarriedToTheNextDevice()
    {
        var devices = new List<RpmsgDevice>();
        RpmsgEndpoint? filler = null;
        using var rig = new VhostUserEchoServerRig("vhost5-carry", configure: o => o.DeviceCreated = d =>
        {
            lock (devices)
            {
                devices.Add(d);
                if (devices.Count == 1)
                {
                    d.CreateNamedEndpoint("old", 0x710, null);
                    filler = d.CreateEndpoint(0x711);
                }
            }
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        Assert.Equal(0x710u, guest.WaitForAnnouncement("old"));
        host.Stop(); // the guest's driver stops taking messages: the rx buffers it posted are all there is
        int sent = 0;
        while (filler!.TrySendTo(0x400, [1]))
            Assert.True(++sent <= 4 * VhostUserTestFrontEnd.Num, "the remote never ran out of the guest's rx buffers");
        var (base0, base1) = guest.StopRings();
        guest.StartLikeQemu(offered, base0, base1);
        RpmsgDevice second;
        lock (devices)
            second = devices[1];
        Assert.Equal([("old", 0x710u)], second.WithdrawAtLinkUp);
        // Its DESTROY of "old" waits for a buffer the guest never gives.
        Assert.True(SpinWait.SpinUntil(() => second.Counters.TxBufferWaits >= 1, Wait), $"the resumed device never tried to withdraw: {second.State}");
        (base0, base1) = guest.StopRings();
        guest.StartLikeQemu(offered, base0, base1);
        RpmsgDevice third;
        lock (devices)
            third = devices[^1];
        Assert.Equal(3, devices.Count);
        Assert.Contains(("old", 0x710u), third.WithdrawAtLinkUp);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// What a stopped device leaves to the next one is bounded: one entry per name and address (the same service carried
    /// twice, or served again, is one entry), at most <see cref="RpmsgDeviceOptions.MaxEndpoints"/> of them, and those
    /// whose DESTROY went out are not among them. A service served again whose CREATE had not gone out yet (queued
    /// behind the withdrawals) is among them: the driver has its channel from before.
    /// </summary>
    [Fact]
    public void DeviceStoppedWhileWithdrawing_RecordsEachUnsentServiceOnce_Bounded()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => (o.WaitStrategy, o.MaxEndpoints) = (RpmsgWaitStrategy.CallerPoll, 8),
            vringNum: 4, start: false);
        // Four withdrawals take the host's four rx buffers (it does not poll); the rest wait.
        (string, uint)[] carried = [("x0", 0x610), ("x1", 0x611), ("x2", 0x612), ("x3", 0x613), ("svc", 0x700),
            .. Enumerable.Range(0, 20).Select(i => ($"gone{i}", 0x800u + (uint)i)), ("gone0", 0x800)];
        loop.Remote.WithdrawAtLinkUp = carried;
        loop.Remote.CreateNamedEndpoint("svc", 0x700, null);
        loop.Host.Start();
        loop.Remote.Start();
        long before = loop.Remote.Counters.TxBufferWaits;
        var linkUp = Task.Factory.StartNew(() => loop.Remote.Poll(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        RpmsgLoopback.WaitForBlockedSenders(loop.Remote, before);
        loop.Remote.Stop("the guest stopped the rings");
        Assert.True(((IAsyncResult)linkUp).AsyncWaitHandle.WaitOne(Wait), "the link-up did not end with the stop");
        var recorded = loop.Remote.AnnouncedAtStop;
        Assert.Equal(recorded.Length, recorded.Distinct().Count());
        Assert.InRange(recorded.Length, 1, 8);
        Assert.Contains(("svc", 0x700u), recorded);
        Assert.DoesNotContain(("x0", 0x610u), recorded);
        Assert.Contains(recorded, r => r.Name.StartsWith("gone", StringComparison.Ordinal));
    }
}
