using System.Diagnostics;
using System.Globalization;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// Host side of the two-process simulation: creates the shared-memory file, starts the simulated remote
/// (<c>dotnet rpmsg.dll remote --shm PATH --passing NAME</c>) as a child, passes it the eventfd doorbells,
/// waits for its READY, unlinks the file (both sides have it mapped, so nothing is left in /dev/shm even if
/// either process is killed), loads the resource table the remote wrote and creates the host
/// <see cref="RpmsgDevice"/> — not started, so drivers can be registered first: call <c>Host.Start()</c>.
/// </summary>
/// <remarks>
/// The child exits when its standard input closes, so it never outlives this process. When it exits
/// (crash included) the host device is stopped (<see cref="SimulatedRemoteProcessOptions.StopHostWhenRemoteExits"/>):
/// sends then throw <see cref="RpmsgDeviceUnavailableException"/>; a send already waiting for a buffer
/// wakes with that exception too, or, if it started before the exit was seen, may end with
/// <see cref="TimeoutException"/>. Dispose stops the host, closes the child's stdin, kills it if it has not
/// exited within <see cref="SimulatedRemoteProcessOptions.ExitTimeout"/>, unmaps and deletes what is left.
/// </remarks>
public sealed class SimulatedRemoteProcess : IDisposable
{
    private readonly SimulatedRemoteProcessOptions _options;
    private readonly RemoteChildProcess _child;
    private readonly CancellationTokenSource _exited = new();
    private readonly Dictionary<string, uint> _endpoints = new(StringComparer.Ordinal);
    private PlatformResources? _resources;
    private DescriptorPassing? _connection;
    private IDoorbell? _doorbell;
    private RpmsgDevice? _host;
    private int _exitedRaised;
    private int? _exitCode;
    private int _disposed;

    private SimulatedRemoteProcess(SimulatedRemoteProcessOptions options, string sharedMemoryPath, RemoteChildProcess child)
    {
        _options = options;
        SharedMemoryPath = sharedMemoryPath;
        _child = child;
    }

    /// <summary>The shared-memory file (unlinked once both sides mapped it).</summary>
    public string SharedMemoryPath { get; }

    /// <summary>The host device (created, not started).</summary>
    public RpmsgDevice Host => _host ?? throw new InvalidOperationException("the simulated remote is not started");

    /// <summary>The host's platform resources (mapped memory, loaded resource table).</summary>
    public PlatformResources Resources => _resources ?? throw new InvalidOperationException("the simulated remote is not started");

    /// <summary>Process id of the child.</summary>
    public int ProcessId => _child.ProcessId;

    /// <summary>True once the child has exited.</summary>
    public bool HasExited => _exitCode is not null || _exited.IsCancellationRequested || _child.HasExited;

    /// <summary>The child's exit code, once it has exited (kept after Dispose).</summary>
    public int? ExitCode => _exitCode ?? (Volatile.Read(ref _disposed) == 0 ? _child.ExitCode : null);

    /// <summary>The remote's endpoints as it reported them at start: "echo", "sink", "command" (name to address).</summary>
    public IReadOnlyDictionary<string, uint> RemoteEndpoints => _endpoints;

    /// <summary>Address of the remote's command endpoint (the source of <c>send</c> commands; it echoes).</summary>
    public uint CommandEndpointAddress => _endpoints.TryGetValue("command", out uint a) ? a : throw new InvalidOperationException("the remote reported no command endpoint");

    /// <summary>What the child wrote on stderr so far.</summary>
    public string StandardError => _child.StandardError;

    /// <summary>Raised once when the child exits (on a thread-pool thread).</summary>
    public event Action<SimulatedRemoteProcess>? Exited;

    /// <summary>Starts the child and sets up the host side; all or nothing (a failure cleans up before it throws).</summary>
    /// <exception cref="TimeoutException">The child did not connect or say READY within the start timeout.</exception>
    /// <exception cref="InvalidOperationException">The child exited before it was ready (its last stderr line says why).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (everything is cleaned up).</exception>
    public static SimulatedRemoteProcess Start(SimulatedRemoteProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SimulatedRemoteProcessOptions();
        if (!options.SharedMemoryPrefix.Contains("vrpmsg-", StringComparison.Ordinal))
            throw new ArgumentException($"SharedMemoryPrefix '{options.SharedMemoryPrefix}' must contain \"vrpmsg-\"", nameof(options));
        string unique = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        string path = Path.Combine(options.SharedMemoryDirectory, options.SharedMemoryPrefix + unique + ".shm");
        string socket = "vrpmsg-remote-" + unique;
        var description = SimulatedPlatform.Description(path);
        DescriptorListener? listener = null;
        SimulatedRemoteProcess? self = null;
        try
        {
            listener = DescriptorListener.Listen(socket);
            var resources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
            try
            {
                var args = RemoteChildProcess.RemoteArguments(path, socket, options.Services, options.RemoteWaitStrategy, options.ExtraArguments);
                self = new SimulatedRemoteProcess(options, path, RemoteChildProcess.Create(args, options.CliAssemblyPath, options.StartInfoFactory));
            }
            catch
            {
                resources.Dispose();
                throw;
            }
            self._resources = resources;
            self._child.Exited += _ => self.OnExited();
            self._child.Launch();
            self.Connect(listener, cancellationToken);
            return self;
        }
        catch
        {
            self?.Dispose();
            TryDelete(path);
            throw;
        }
        finally
        {
            listener?.Dispose();
        }
    }

    private void Connect(DescriptorListener listener, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var resources = _resources!;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_child.ExitedToken, cancellationToken);
        try
        {
            _connection = listener.Accept(_options.StartTimeout, linked.Token);
            _doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Passing = _connection, Timeout = _options.StartTimeout, CancellationToken = linked.Token });
        }
        catch (OperationCanceledException) when (_child.ExitedToken.IsCancellationRequested)
        {
            throw _child.ExitedEarly();
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the simulated remote (pid {ProcessId}) did not connect to '@{listener.Name}' within {_options.StartTimeout.TotalSeconds} s; stderr: {_child.LastStderrLine()}");
        }
        _child.ReadUntilReady(_options.StartTimeout - deadline.Elapsed, _endpoints, cancellationToken);
        // Both processes have the file mapped: the name is no longer needed, and an unlinked file cannot be leaked.
        TryDelete(SharedMemoryPath);
        resources.LoadResourceTable();
        _host = RpmsgDevice.CreateHost(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), _doorbell, _options.HostOptions);
        if (HasExited)
            OnExited();
    }

    /// <summary>
    /// Sends one command of the remote's line protocol (<see cref="SimulatedRemoteCommands"/>) and returns
    /// the reply's detail (after "OK"). One command at a time; thread-safe.
    /// </summary>
    /// <exception cref="InvalidOperationException">The remote answered ERR (the message has its reason) or exited.</exception>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/> (default 10 s).</exception>
    public string Command(string line, TimeSpan? timeout = null) => _child.Command(line, timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Kills the child at once (SIGKILL, as a crash would) and waits for it.</summary>
    public void Kill() => _child.Kill();

    /// <summary>Waits for the child to exit; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout) => _child.WaitForExit(timeout);

    private void OnExited()
    {
        if (!_exited.IsCancellationRequested)
        {
            try
            {
                _exited.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
        var host = _host;
        if (host is not null && _options.StopHostWhenRemoteExits)
        {
            string code = _child.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown";
            host.Stop($"the simulated remote (pid {ProcessId}) exited with code {code}");
        }
        if (host is not null && Interlocked.Exchange(ref _exitedRaised, 1) == 0)
        {
            try
            {
                Exited?.Invoke(this);
            }
            catch (Exception)
            {
                // A subscriber's failure must not take the process down from a thread-pool thread.
            }
        }
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

    /// <summary>Stops the host device, closes the child's stdin, kills it after <see cref="SimulatedRemoteProcessOptions.ExitTimeout"/>, unmaps and deletes the file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _host?.Dispose();
        if (ProcessId != 0)
        {
            // The remote exits on stdin EOF; it is killed only if it does not.
            _child.Shutdown(_options.ExitTimeout);
            _exitCode = _child.ExitCode;
        }
        _doorbell?.Dispose();
        _connection?.Dispose();
        _resources?.Dispose();
        TryDelete(SharedMemoryPath);
        _child.Dispose();
        _exited.Dispose();
    }
}
