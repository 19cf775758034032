using System.Buffers.Binary;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary><see cref="PlatformResources.CreateDoorbell"/> for each described doorbell kind.</summary>
public class PlatformResourcesDoorbellTests
{
    private static PlatformDescription Anonymous(PlatformRegionKind kind = PlatformRegionKind.Anonymous) => PlatformResourcesTests.Anonymous(kind);


    [Fact]
    public void CreateDoorbell_Polling_UsesTheCallersPredicate()
    {
        using var host = PlatformResources.Open(Anonymous());
        bool work = false;

        using var doorbell = host.CreateDoorbell(new PlatformDoorbellOptions { HasWork = () => work });

        Assert.IsType<PollingDoorbell>(doorbell);
        Assert.False(doorbell.Wait(TimeSpan.Zero));
        work = true;
        Assert.True(doorbell.Wait(TimeSpan.Zero));
    }

    [Fact]
    public void CreateDoorbell_PollingWithoutPredicate_Throws()
    {
        using var host = PlatformResources.Open(Anonymous());

        Assert.Throws<ArgumentException>(() => host.CreateDoorbell());
    }

    [Fact]
    public void CreateDoorbell_EventFdOverPassing_HostRingsRemote()
    {
        var eventfd = new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd };
        using var host = PlatformResources.Open(Anonymous() with { Doorbell = eventfd });
        using var remote = PlatformResources.Open(Anonymous() with { Doorbell = eventfd, Role = PlatformRole.Remote });
        var (hostEnd, remoteEnd) = DescriptorPassing.CreatePair();
        using (hostEnd)
        using (remoteEnd)
        {
            using var hostBell = host.CreateDoorbell(new PlatformDoorbellOptions { Passing = hostEnd });
            using var remoteBell = remote.CreateDoorbell(new PlatformDoorbellOptions { Passing = remoteEnd, Timeout = Bounded.Limit });

            Assert.True(hostBell.Ring());
            Assert.True(remoteBell.Wait(Bounded.Limit));
            Assert.True(remoteBell.Ring());
            Assert.True(hostBell.Wait(Bounded.Limit));
        }
    }

    [Fact]
    public void CreateDoorbell_EventFdOverDescribedSocket_HostRingsRemote()
    {
        var eventfd = new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd, Socket = "vrpmsg-test-platform-" + Guid.NewGuid().ToString("N") };
        using var host = PlatformResources.Open(Anonymous() with { Doorbell = eventfd });
        using var remote = PlatformResources.Open(Anonymous() with { Doorbell = eventfd, Role = PlatformRole.Remote });

        var hostTask = Task.Factory.StartNew(() => host.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Bounded.Limit }), TaskCreationOptions.LongRunning);
        using var remoteBell = remote.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Bounded.Limit });
        using var hostBell = Bounded.Await(hostTask);

        Assert.True(hostBell.Ring());
        Assert.True(remoteBell.Wait(Bounded.Limit));
    }

    [Fact]
    public void CreateDoorbell_EventFdFactory_IsUsed()
    {
        using var host = PlatformResources.Open(Anonymous() with { Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Eventfd } });
        using var made = EventFdDoorbell.Create("vrpmsg-test-factory");

        var doorbell = host.CreateDoorbell(new PlatformDoorbellOptions { EventFdFactory = () => made });

        Assert.Same(made, doorbell);
    }

    [Fact]
    public void CreateDoorbell_UnixSocket_RemoteServesAndHostConnects()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-platform-" + Guid.NewGuid().ToString("N") + ".sock");
        try
        {
            var socket = new DoorbellDescription { Kind = PlatformDoorbellKind.UnixSocket, Path = path };
            using var host = PlatformResources.Open(Anonymous() with { Doorbell = socket });
            using var remote = PlatformResources.Open(Anonymous() with { Doorbell = socket, Role = PlatformRole.Remote });

            var serverTask = Task.Factory.StartNew(() => remote.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Bounded.Limit }), TaskCreationOptions.LongRunning);
            using var client = host.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Bounded.Limit });
            using var server = Bounded.Await(serverTask);

            Assert.True(((UnixSocketDoorbell)server).IsServer);
            Assert.False(((UnixSocketDoorbell)client).IsServer);
            Assert.True(client.Ring());
            Assert.True(server.Wait(Bounded.Limit));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
