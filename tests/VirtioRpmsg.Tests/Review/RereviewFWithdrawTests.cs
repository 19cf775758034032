using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-f) of the withdraw-at-link-up (a83a2b6): the resumed device's DESTROYs of the last device's
/// announcements go out after link-up, outside the device lock, so a named endpoint created at that moment (in a
/// StateChanged(Running) handler, or by a thread that waited for link-up) at the same name and address announces
/// itself first and is then withdrawn: the guest's driver loses a service the device serves.
/// </summary>
public sealed class RereviewFWithdrawTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    [Fact]
    public void ServiceCreatedAtLinkUpAtTheSameAddress_IsNotWithdrawnByTheResumedDevice()
    {
        int created = 0;
        using var rig = new VhostUserEchoServerRig("rereview-f-withdraw", configure: o => o.DeviceCreated = d =>
        {
            int n = Interlocked.Increment(ref created);
            // Made once the link is up, at the same address every time: the same service, served again.
            d.StateChanged += (device, state) =>
            {
                if (state == RpmsgDeviceState.Running)
                    device.CreateNamedEndpoint("rpmsg-echo", 0x501, (ept, source, payload) => ept.SendTo(source, payload, Wait));
            };
            // Announced at link-up after the withdrawals (a new address each time): when the guest sees it, every
            // DESTROY the resumed device sends at link-up has reached it.
            d.CreateNamedEndpoint("marker", 0x600 + (uint)n, null);
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        var destroyed = new System.Collections.Concurrent.ConcurrentQueue<(string, uint)>();
        host.ServiceDestroyed += (name, address) => destroyed.Enqueue((name, address));
        Assert.Equal(0x501u, guest.WaitForAnnouncement("rpmsg-echo"));
        Assert.Equal(0x601u, guest.WaitForAnnouncement("marker"));
        var (base0, base1) = guest.StopRings();
        guest.StartLikeQemu(offered, base0, base1);
        Assert.True(SpinWait.SpinUntil(() => guest.Announced["marker"] == 0x602, Wait), "the resumed device never announced its marker");
        Assert.Contains(("marker", 0x601u), destroyed); // what it no longer serves is withdrawn
        Assert.DoesNotContain(("rpmsg-echo", 0x501u), destroyed); // what it serves again at the same address is not
        Assert.Contains("rpmsg-echo", host.AnnouncedServiceNames);
        using var ept = host.CreateEndpoint();
        ept.SendTo(0x501, [7, 7], Wait);
        var buffer = new byte[host.MaxPayload];
        Assert.Equal(2, ept.Receive(buffer, Wait).Length);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// A named endpoint disposed while the guest's driver has no rx buffer free: Withdraw marks it withdrawn under the lock,
    /// then its DESTROY waits for a buffer, and the guest stops the rings first (the DESTROY never goes out). The stop
    /// records what the driver was told: the endpoint is still in the table, but marked withdrawn, so it is left out,
    /// and the device resumed on that driver does not withdraw the channel the driver still has (bound to nothing).
    /// </summary>
    [Fact]
    public void NamedEndpointDisposedWhileItsDestroyCannotGoOut_StopRaces_TheResumedDeviceWithdrawsIt()
    {
        var devices = new List<RpmsgDevice>();
        RpmsgEndpoint? service = null, filler = null;
        using var rig = new VhostUserEchoServerRig("rereview-f-dispose", configure: o => o.DeviceCreated = d =>
        {
            lock (devices)
            {
                devices.Add(d);
                if (devices.Count == 1)
                {
                    service = d.CreateNamedEndpoint("svc", 0x700, null);
                    filler = d.CreateEndpoint(0x701);
                }
            }
        });
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        Assert.Equal(0x700u, guest.WaitForAnnouncement("svc"));
        host.Stop(); // the guest's driver stops taking messages: its rx buffers posted now are all there is
        int sent = 0;
        while (filler!.TrySendTo(0x400, [1]))
            Assert.True(++sent <= 4 * Num, "the remote never ran out of the guest's rx buffers");
        var disposing = Task.Factory.StartNew(service!.Dispose, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // Withdraw has run (under the lock): its DESTROY has no buffer to go out in.
        Assert.True(SpinWait.SpinUntil(() => service.AnnounceState != RpmsgAnnounceState.Announced, Wait), "the Dispose never withdrew the endpoint");
        Assert.False(disposing.IsCompleted, "the DESTROY went out: the guest's rx buffers were not all taken");
        var (base0, base1) = guest.StopRings();
        Assert.True(disposing.Wait(Wait), "the Dispose did not end with the stop");
        guest.StartLikeQemu(offered, base0, base1);
        RpmsgDevice resumed;
        lock (devices)
            resumed = devices[^1];
        Assert.Equal(2, devices.Count);
        Assert.Contains(("svc", 0x700u), resumed.WithdrawAtLinkUp);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
