using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// The remote offers what its platform description says (vdev.features), and EVENT_IDX is used only when
/// the host acked it: a host that acks NS alone still gets every notification.
/// </summary>
public sealed class FeatureOfferTests
{
    private static PlatformDescription Example(string file) =>
        PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), file));

    [Fact]
    public void OpenAmpRemotePreset_WritesOpenAmpsTableByteForByte()
    {
        string path = $"/dev/shm/vrpmsg-test-offer-{Guid.NewGuid():N}.shm";
        var preset = Example("openamp-linux-remote.json");
        try
        {
            using (var remote = PlatformResources.Open(preset with { Regions = [preset.Regions[0] with { Path = path }] }))
            {
                SimulatedRemote.WriteResourceTable(remote);
                Assert.Equal(RpmsgFeatures.NameService, remote.RpmsgVdev!.DeviceFeatures);
            }
            byte[] written = File.ReadAllBytes(path)[..88];
            Assert.Equal(ResourceTableBuilder.BuildOpenAmpLinux(), written);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("openamp-linux-host.json", RpmsgFeatures.NameService)]
    [InlineData("openamp-linux-remote.json", RpmsgFeatures.NameService)]
    [InlineData("simulated.json", RpmsgFeatures.NameService | VirtioFeatures.EventIndex)]
    public void Presets_OfferTheirDocumentedFeatures(string file, uint features) =>
        Assert.Equal(features, Example(file).Vdev.EffectiveFeatures);

    [Fact]
    public void NoFeaturesField_OffersNameServiceOnly() =>
        Assert.Equal(RpmsgFeatures.NameService, new VdevLayoutDescription().EffectiveFeatures);

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    public void HostAcksWithoutEventIndex_RemoteNotifiesEveryTime(RpmsgWaitStrategy wait)
    {
        string path = $"/dev/shm/vrpmsg-test-noeventidx-{Guid.NewGuid():N}.shm";
        var description = SimulatedPlatform.Description(path);
        using var hostResources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
        try
        {
            using var remoteResources = PlatformResources.Open(SimulatedPlatform.RemoteDescription(path));
            var (hostEnd, remoteEnd) = DescriptorPassing.CreatePair();
            using var hostEndOwned = hostEnd;
            using var hostBell = hostResources.CreateDoorbell(new PlatformDoorbellOptions { Passing = hostEnd });
            using var remoteBell = remoteResources.CreateDoorbell(new PlatformDoorbellOptions { Passing = remoteEnd, Timeout = Bounded.Limit });
            using var remote = SimulatedRemote.Start(remoteResources, remoteBell, new SimulatedRemoteOptions { WaitStrategy = wait, HostConnection = remoteEnd });
            hostResources.LoadResourceTable();
            // The remote offers EVENT_IDX; this host acks NS only, as a driver without EVENT_IDX support must.
            using var host = RpmsgDevice.CreateHost(hostResources.CreateRpmsgLayout(), hostResources.CreateVdevControl(), hostBell,
                new RpmsgDeviceOptions { SendTimeout = Bounded.Limit, EventIndex = false, WaitStrategy = wait });
            host.Start();
            Assert.True(remote.WaitForLinkUp(Bounded.Limit));

            Assert.Equal(SimulatedRemote.DeviceFeatures, hostResources.RpmsgVdev!.DeviceFeatures);
            Assert.Equal(RpmsgFeatures.NameService, host.NegotiatedFeatures);
            Assert.Equal(RpmsgFeatures.NameService, remote.Device.NegotiatedFeatures);
            // More round trips than ring entries: a remote that wrongly waited on used_event (never written
            // by this host) would stop notifying after the first and every Receive would time out.
            using var ept = host.CreateEndpoint();
            byte[] reply = new byte[ept.MaxPayload];
            for (int i = 0; i < 600; i++)
            {
                byte[] message = BitConverter.GetBytes(i);
                ept.SendTo(remote.EchoAddress, message, Bounded.Limit);
                var r = ept.Receive(reply, Bounded.Limit);
                Assert.Equal(message, reply[..r.Length]);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
