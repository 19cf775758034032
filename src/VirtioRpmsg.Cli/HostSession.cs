using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli;

/// <summary>
/// The host side a subcommand talks through: either the simulated remote in a child process
/// (<see cref="SimulatedRemoteProcess"/>) or a real setup from a platform description. The host device
/// is created, not started. Dispose cleans up everything (child process, shared-memory file, mappings).
/// </summary>
internal sealed class HostSession : IDisposable
{
    private readonly SimulatedRemoteProcess? _simulated;
    private readonly PlatformResources? _resources;
    private readonly IDoorbell? _doorbell;
    private readonly RpmsgDevice? _platformHost;
    private bool _disposed;

    private HostSession(SimulatedRemoteProcess simulated, IReadOnlyList<string> description)
    {
        _simulated = simulated;
        Description = description;
    }

    private HostSession(PlatformResources resources, IDoorbell doorbell, RpmsgDevice host, IReadOnlyList<string> description)
    {
        _resources = resources;
        _doorbell = doorbell;
        _platformHost = host;
        Description = description;
    }

    public RpmsgDevice Host => _simulated?.Host ?? _platformHost!;

    /// <summary>The simulated remote, when there is one.</summary>
    public SimulatedRemoteProcess? Simulated => _simulated;

    /// <summary>Lines describing the set-up, for the user.</summary>
    public IReadOnlyList<string> Description { get; }

    /// <summary>Starts the simulated remote (echo service) in a child process.</summary>
    public static HostSession StartSimulated(RpmsgDeviceOptions hostOptions, RpmsgWaitStrategy remoteWait, SimulatedServices services, string sharedMemoryPrefix, CancellationToken cancellationToken)
    {
        var simulated = SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions
        {
            HostOptions = hostOptions,
            RemoteWaitStrategy = remoteWait,
            Services = services,
            SharedMemoryPrefix = sharedMemoryPrefix,
        }, cancellationToken);
        var r = simulated.Resources;
        return new HostSession(simulated,
        [
            $"remote: simulated, pid {simulated.ProcessId} ({string.Join(' ', SimulatedRemoteProcessOptions.CurrentProcessCommand().Select(Path.GetFileName))} remote)",
            $"shared memory: {simulated.SharedMemoryPath}, 0x{r.Regions[0].Size:X} bytes (unlinked as soon as both processes mapped it)",
            $"layout: resource table at 0x{r.ResourceTableOffset:X}, vrings at 0x{r.Vring0Address:X} and 0x{r.Vring1Address:X} ({r.VringNum} entries), {r.BufferCount} buffers of {r.BufferSize} bytes at 0x{r.BufferPoolAddress:X}",
            "doorbells: an eventfd pair per direction, passed to the child over a Unix socket",
        ]);
    }

    /// <summary>Opens a real setup (host role) from a platform description file; its remote must be running.</summary>
    public static HostSession OpenPlatform(FileInfo file, RpmsgDeviceOptions hostOptions, CancellationToken cancellationToken)
    {
        var description = PlatformDescription.Load(file.FullName) with { Role = PlatformRole.Host };
        // The table is read only after the doorbell connects: a remote writes its table before it
        // listens (OpenAMP's demo and ours), so a host started first waits for it instead of reading an
        // empty table (and a host with no remote at all says that nobody listens).
        var resources = PlatformResources.Open(description, new PlatformOpenOptions { CancellationToken = cancellationToken, ReadResourceTable = false });
        IDoorbell? doorbell = null;
        try
        {
            doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { CancellationToken = cancellationToken });
            if (description.ResourceTable is not null)
                resources.LoadResourceTable();
            var host = RpmsgDevice.CreateHost(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), doorbell, hostOptions);
            return new HostSession(resources, doorbell, host,
            [
                $"platform: {file.FullName} ({description.Regions.Count} region(s), doorbell {description.Doorbell.Kind})",
                $"layout: vrings at 0x{resources.Vring0Address:X} and 0x{resources.Vring1Address:X} ({resources.VringNum} entries), {resources.BufferCount} buffers of {resources.BufferSize} bytes at 0x{resources.BufferPoolAddress:X}",
            ]);
        }
        catch
        {
            doorbell?.Dispose();
            resources.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_simulated is not null)
        {
            _simulated.Dispose();
            return;
        }
        _platformHost?.Dispose();
        _doorbell?.Dispose();
        _resources?.Dispose();
    }
}
