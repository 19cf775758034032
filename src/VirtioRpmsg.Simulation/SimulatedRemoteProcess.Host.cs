using System.Globalization;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

// Direct use without a RemoteProcessor: the process owns the shared file and a host device of its own.
public sealed partial class SimulatedRemoteProcess
{
    private PlatformResources? _resources;
    private IDoorbell? _hostDoorbell;
    private RpmsgDevice? _host;
    private string? _ownedFile;
    private int _exitedRaised;

    /// <summary>The host device made by <see cref="StartWithHost"/> (created, not started).</summary>
    /// <exception cref="InvalidOperationException">This instance was not made by <see cref="StartWithHost"/>.</exception>
    public RpmsgDevice Host => _host ?? throw new InvalidOperationException("no host device: only StartWithHost makes one");

    /// <summary>The host's platform resources made by <see cref="StartWithHost"/> (mapped memory, loaded resource table).</summary>
    public PlatformResources Resources => _resources ?? throw new InvalidOperationException("no platform resources: only StartWithHost opens them");

    /// <summary>The shared-memory file (with <see cref="StartWithHost"/>: unlinked once both sides mapped it).</summary>
    public string SharedMemoryPath => _shmPath;

    /// <summary>True when no child runs: it exited (a crash included), was stopped, or was never started.</summary>
    public bool HasExited => Volatile.Read(ref _child) is not { HasExited: false };

    /// <summary>Exit code of the current child once it exited, else of the last reaped one (kept after Dispose); null when unknown.</summary>
    public int? ExitCode
    {
        get
        {
            lock (_exitLock)
                return _child is { } child ? child.ExitCode ?? _lastExitCode : _lastExitCode;
        }
    }

    /// <summary>Address of the remote's command endpoint (the source of <c>send</c> commands; it echoes).</summary>
    public uint CommandEndpointAddress => RemoteEndpoints.TryGetValue("command", out uint a) ? a : throw new InvalidOperationException("the remote reported no command endpoint");

    /// <summary>Raised once, when a child first exits unless told to (a crash, <see cref="Kill"/>), on a thread-pool thread; only with <see cref="StartWithHost"/>.</summary>
    public event Action<SimulatedRemoteProcess>? Exited;

    /// <summary>
    /// Creates a shared-memory file (<see cref="SimulatedPlatform.Description"/>) in
    /// <see cref="SimulatedRemoteProcessOptions.SharedMemoryDirectory"/>, starts the child over it, unlinks the
    /// file once both sides mapped it (so nothing is left in /dev/shm even if either process is killed), loads the
    /// resource table the remote wrote and creates the <see cref="Host"/> device: not started, so drivers can be
    /// registered first; call <c>Host.Start()</c>. All or nothing: a failure cleans up before it throws.
    /// </summary>
    /// <remarks>
    /// When the child exits unless told to, the host device is stopped
    /// (<see cref="SimulatedRemoteProcessOptions.StopHostWhenRemoteExits"/>): sends then throw
    /// <see cref="RpmsgDeviceUnavailableException"/>; a send already waiting for a buffer wakes with that
    /// exception too, or, if it started before the exit was seen, may end with <see cref="TimeoutException"/>.
    /// </remarks>
    /// <exception cref="TimeoutException">The child did not connect or say READY within the start timeout.</exception>
    /// <exception cref="InvalidOperationException">The child exited before it was ready (its last stderr line says why).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (everything is cleaned up).</exception>
    public static SimulatedRemoteProcess StartWithHost(SimulatedRemoteProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SimulatedRemoteProcessOptions();
        if (!options.SharedMemoryPrefix.Contains("vrpmsg-", StringComparison.Ordinal))
            throw new ArgumentException($"SharedMemoryPrefix '{options.SharedMemoryPrefix}' must contain \"vrpmsg-\"", nameof(options));
        string unique = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        string path = Path.Combine(options.SharedMemoryDirectory, options.SharedMemoryPrefix + unique + ".shm");
        var description = SimulatedPlatform.Description(path);
        SimulatedRemoteProcess? self = null;
        try
        {
            var resources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            self = new SimulatedRemoteProcess(description, options, "simulated-remote") { _resources = resources, _ownedFile = path };
            self._hostDoorbell = self.CreateHostDoorbell();
            self.Start(cancellationToken);
            // Both processes have the file mapped: the name is no longer needed, and an unlinked file cannot be leaked.
            TryDelete(path);
            resources.LoadResourceTable();
            self._host = RpmsgDevice.CreateHost(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), self._hostDoorbell, options.HostOptions);
            // An exit seen before the host existed stopped nothing: catch up.
            if (self.State == RemoteControlState.Crashed)
                self.OnCrashed(null);
            return self;
        }
        catch
        {
            self?.Dispose();
            TryDelete(path);
            throw;
        }
    }

    /// <summary>Kills the current child at once (SIGKILL, as a crash would) and waits for it.</summary>
    public void Kill() => Volatile.Read(ref _child)?.Kill();

    /// <summary>Waits for the current child to exit; false on timeout, true when there is none.</summary>
    public bool WaitForExit(TimeSpan timeout) => Volatile.Read(ref _child)?.WaitForExit(timeout) ?? true;

    /// <summary>A child exited unless told to: stop the host device (if any, and configured), then tell subscribers once.</summary>
    private void OnCrashed(RemoteChildProcess? child)
    {
        var host = _host;
        if (host is null)
            return;
        if (_options.StopHostWhenRemoteExits)
        {
            string code = (child ?? Volatile.Read(ref _child))?.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown";
            host.Stop($"the simulated remote (pid {ProcessId}) exited with code {code}");
        }
        if (Interlocked.Exchange(ref _exitedRaised, 1) == 0)
            RemoteChildProcess.RaiseOnce(Exited, this);
    }

    private void DisposeHostSide()
    {
        _hostDoorbell?.Dispose();
        _resources?.Dispose();
        if (_ownedFile is not null)
            TryDelete(_ownedFile);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: reported by whoever checks /dev/shm.
        }
    }
}
