using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// A <see cref="SimulatedRemote"/> and a host device in one process over one shared-memory file (the
/// simulated default platform), the doorbells passed over a socket pair as between processes. The host
/// is created but started only by <see cref="StartHost"/>.
/// </summary>
internal sealed class SimulatedRemotePair : IDisposable
{
    private readonly string _path = $"/dev/shm/vrpmsg-test-simremote-{Guid.NewGuid():N}.shm";
    private readonly IDoorbell _hostBell;
    private readonly IDoorbell _remoteBell;

    public PlatformResources HostResources { get; }
    public PlatformResources RemoteResources { get; }
    public DescriptorPassing HostEnd { get; }
    public SimulatedRemote Remote { get; }
    public RpmsgDevice Host { get; }

    public SimulatedRemotePair()
    {
        var description = SimulatedPlatform.Description(_path);
        HostResources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
        RemoteResources = PlatformResources.Open(description with { Role = PlatformRole.Remote, Regions = [description.Regions[0] with { Create = false }] });
        var (hostEnd, remoteEnd) = DescriptorPassing.CreatePair();
        HostEnd = hostEnd;
        _hostBell = HostResources.CreateDoorbell(new PlatformDoorbellOptions { Passing = hostEnd });
        _remoteBell = RemoteResources.CreateDoorbell(new PlatformDoorbellOptions { Passing = remoteEnd, Timeout = Bounded.Limit });
        Remote = SimulatedRemote.Start(RemoteResources, _remoteBell, new SimulatedRemoteOptions { Services = SimulatedServices.Echo | SimulatedServices.Sink, HostConnection = remoteEnd });
        HostResources.LoadResourceTable();
        Host = RpmsgDevice.CreateHost(HostResources.CreateRpmsgLayout(), HostResources.CreateVdevControl(), _hostBell, new RpmsgDeviceOptions { SendTimeout = Bounded.Limit });
    }

    public void StartHost() => Host.Start();

    public void Dispose()
    {
        Host.Dispose();
        Remote.Dispose();
        _hostBell.Dispose();
        _remoteBell.Dispose();
        HostEnd.Dispose();
        HostResources.Dispose();
        RemoteResources.Dispose();
        File.Delete(_path);
    }
}
