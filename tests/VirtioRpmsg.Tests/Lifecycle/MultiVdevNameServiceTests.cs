using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Issue 16 items 2 and 4: each vdev has its own name service, and its own announcement bound.</summary>
public class MultiVdevNameServiceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void ServiceAnnouncedOnOneVdev_BindsThereOnly_AFloodOnTheOtherVdevUsesOnlyItsOwnBound()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions
        {
            Timeout = Bound,
            Device = new RpmsgDeviceOptions { Name = "mv-ns", MaxAnnouncedServices = 16 },
        });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        using var link = open.Result;
        Assert.Equal(["mv-ns", "mv-ns.vdev1"], link.Devices.Select(d => d.Name).ToArray());
        var unboundOnVdev0 = new List<string>();
        link.Devices[0].UnboundService += (name, _) =>
        {
            lock (unboundOnVdev0)
                unboundOnVdev0.Add(name);
        };

        remote.FloodAnnouncements(1, 100);
        Assert.True(SpinWait.SpinUntil(() => link.Devices[1].Counters.NameServiceRefused == 100 - 16, Bound),
            $"vdev 1 refused {link.Devices[1].Counters.NameServiceRefused}, expected 84");

        using var onVdev1 = remote.Announce(1, "svc-one", 0x900);
        using var onVdev0 = remote.Announce(0, "svc-zero", 0x900);
        var zero = link.WaitForChannelAsync("svc-zero", 0);
        Assert.True(zero.Wait(Bound), "svc-zero was not bound on vdev 0");
        Assert.Same(link.Devices[0], zero.Result.Device);
        Assert.Equal(0x900u, zero.Result.RemoteAddress);

        // Vdev 1 is full (16 unbound flood names): its announcement is refused there, and never seen on vdev 0.
        Assert.True(SpinWait.SpinUntil(() => link.Devices[1].Counters.NameServiceRefused == 100 - 16 + 1, Bound), "svc-one not refused on the full vdev 1");
        Assert.Equal(0, link.Devices[0].Counters.NameServiceRefused);
        Assert.DoesNotContain(link.Devices[0].Channels, c => c.Name == "svc-one");
        lock (unboundOnVdev0)
            Assert.DoesNotContain("svc-one", unboundOnVdev0);
        Assert.Empty(remote.CrossTalk);
    }
}
