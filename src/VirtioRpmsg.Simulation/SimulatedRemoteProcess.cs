using System.Globalization;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// A simulated remote processor in a child process, over a shared-memory FILE: the child runs
/// <see cref="SimulatedRemoteChild"/> (a <see cref="SimulatedRemote"/> with the services of the options),
/// started through <see cref="SimulatedRemoteProcessOptions.RemoteCommand"/>. Two ways to use it:
/// <list type="bullet">
/// <item>As the control backend of a <see cref="RemoteProcessor"/> (the constructor): Start = spawn a child,
/// hand it the doorbell pair made by <see cref="CreateHostDoorbell"/> over a fresh abstract Unix socket, wait
/// for its READY (it has written its resource table by then). Stop = close its stdin (it exits on EOF), kill it
/// after <see cref="SimulatedRemoteProcessOptions.StopTimeout"/>, reap it. InjectCrash = SIGKILL, or the
/// <c>crash</c> fault-injection command (NEEDS_RESET, then SIGKILL of itself). Detach = the <c>detach</c>
/// command (the child drops its transport and keeps running); Attach = the <c>attach</c> command followed by a
/// fresh eventfd pair over the same socket, or, for a child that died, a new child
/// (<see cref="SimulatedRemoteProcessOptions.RebootOnAttachAfterCrash"/>).</item>
/// <item>Directly, with a host device of its own: <see cref="StartWithHost"/>.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para>A child that exits unless told to (a crash) rings <see cref="CrashWatchdog"/>, which
/// <see cref="RemoteProcessor"/> takes as its watchdog (<see cref="IRemoteCrashSignal"/>) and its monitor reports the crash within
/// one <see cref="RemoteProcessorOptions.MonitorInterval"/> of the exit being seen. Killing a process leaves
/// its shared memory as it was, so without the watchdog nothing in memory says it died.</para>
/// <para>The child reads commands on stdin and exits when it closes, so it never outlives this process;
/// Dispose kills it. The child uses the layout of <see cref="SimulatedPlatform.Description"/> over the file:
/// the description must match it.</para>
/// </remarks>
public sealed partial class SimulatedRemoteProcess : IRemoteProcessorControl, IRemoteDoorbellProvider, IRemoteCrashSignal, IDisposable
{
    private readonly object _lock = new();
    private readonly object _exitLock = new();
    private readonly SimulatedRemoteProcessOptions _options;
    private readonly string _shmPath;
    private readonly LoopbackDoorbell _watchdogRinger;
    private readonly LoopbackDoorbell _watchdog;
    private readonly Dictionary<string, uint> _endpoints = new(StringComparer.Ordinal);
    private RemoteChildProcess? _child;
    private DescriptorPassing? _connection;
    private EventFdDoorbell? _pendingDoorbell;
    private volatile RemoteControlState _state = RemoteControlState.Offline;
    private bool _exitExpected;
    private int _boots;
    private int? _lastExitCode;
    private bool _disposed;

    /// <summary>
    /// <paramref name="description"/>: the host's platform, one shmFile region with the layout of
    /// <see cref="SimulatedPlatform.Description"/> (the host creates the file; the child opens it).
    /// </summary>
    /// <exception cref="PlatformDescriptionException">The description is not a single shared file with the simulated layout.</exception>
    public SimulatedRemoteProcess(PlatformDescription description, SimulatedRemoteProcessOptions? options = null, string name = "sim-process")
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (description.Regions.Count != 1 || description.Regions[0].Kind != PlatformRegionKind.ShmFile || description.Regions[0].Path is not { Length: > 0 } path)
            throw new PlatformDescriptionException("regions", $"{description.Regions.Count} region(s), first {(description.Regions.Count > 0 ? description.Regions[0].Kind.ToString() : "none")}",
                "the simulated remote process opens one shared-memory file by path: exactly one shmFile region with a path");
        var expected = SimulatedPlatform.Description(path);
        if (description.Vdev != expected.Vdev)
            throw new PlatformDescriptionException("vdev", description.Vdev?.ToString() ?? "null", "the simulated remote process uses the layout of SimulatedPlatform.Description");
        if (description.ResourceTable != expected.ResourceTable)
            throw new PlatformDescriptionException("resourceTable", description.ResourceTable?.ToString() ?? "null", "the simulated remote process puts its table where SimulatedPlatform.Description does");
        if (description.Regions[0].Size != expected.Regions[0].Size)
            throw new PlatformDescriptionException("regions[0].size", description.Regions[0].Size?.ToString(CultureInfo.InvariantCulture) ?? "null", $"the simulated remote process maps {expected.Regions[0].Size} bytes");
        _options = options ?? new SimulatedRemoteProcessOptions();
        _shmPath = path;
        Name = name;
        (_watchdogRinger, _watchdog) = LoopbackDoorbell.CreatePair();
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Not meaningful for the simulated remote (there is no image); kept for the interface.</summary>
    public string? FirmwareName { get; set; }

    /// <summary>Offline (no child), Running, Detached, or Crashed once the child exited unless told to.</summary>
    public RemoteControlState State
    {
        get
        {
            var state = _state;
            var child = Volatile.Read(ref _child);
            if (state is RemoteControlState.Running or RemoteControlState.Detached && child is not null && child.HasExited)
                return RemoteControlState.Crashed;
            return state;
        }
    }

    /// <summary>Always true: a crash is a SIGKILL or the fault command, per <see cref="SimulatedRemoteProcessOptions.CrashMethod"/>.</summary>
    public bool CanInjectCrash => true;

    /// <summary>Rung when the child exits unless told to (crash); RemoteProcessor picks it up as its watchdog (IRemoteCrashSignal). Owned by this control.</summary>
    public IDoorbell CrashWatchdog => _watchdog;

    /// <summary>Process id of the current child; 0 when there is none.</summary>
    public int ProcessId => Volatile.Read(ref _child)?.ProcessId ?? 0;

    /// <summary>Children spawned so far.</summary>
    public int BootCount => Volatile.Read(ref _boots);

    /// <summary>The current child's endpoints as it reported them when it started: "command", "echo", "sink" (name to address).</summary>
    public IReadOnlyDictionary<string, uint> RemoteEndpoints
    {
        get
        {
            lock (_lock)
                return new Dictionary<string, uint>(_endpoints, StringComparer.Ordinal);
        }
    }

    /// <summary>What the current child wrote on stderr.</summary>
    public string StandardError => Volatile.Read(ref _child)?.StandardError ?? "";

    /// <summary>Creates a fresh eventfd pair; the remote's end is sent to the child at the next start or attach. The caller owns the returned host end.</summary>
    public IDoorbell CreateHostDoorbell()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The previous pending end, if never used, belongs to its caller (RemoteProcessor disposes it).
            var doorbell = EventFdDoorbell.Create($"{Name} doorbell");
            _pendingDoorbell = doorbell;
            return doorbell;
        }
    }

    /// <summary>Spawns the child remote, passes it the memory and the doorbell, and waits for READY.</summary>
    public void Start() => Start(CancellationToken.None);

    private void Start(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_child is not null && !_child.HasExited)
                throw new InvalidOperationException($"simulated remote process '{Name}' is already running (pid {_child.ProcessId}, state {State})");
            Reap();
            Spawn(TakePendingDoorbell("start"), cancellationToken);
            _state = RemoteControlState.Running;
        }
    }

    /// <summary>Asks the child to quit (stdin closed), kills it after the stop timeout, and reaps it.</summary>
    public void Stop()
    {
        lock (_lock)
            Reap();
    }

    /// <summary>Tells the child to drop its transport and keep running.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            var child = RequireAlive("detach from");
            child.Command("detach", _options.CommandTimeout);
            _state = RemoteControlState.Detached;
        }
    }

    /// <summary>Reconnects to the running child with a fresh doorbell pair (or reboots it after a crash, if configured).</summary>
    public void Attach()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var doorbell = TakePendingDoorbell("attach");
            if (_child is { HasExited: false } child)
            {
                var connection = _connection!;
                // The child reads the doorbell pair from the socket once it has the command.
                child.Command("attach", _options.CommandTimeout, () => connection.SendDoorbell(doorbell));
            }
            else if (_child is not null && _options.RebootOnAttachAfterCrash)
            {
                // The dead core "rebooted by itself": a new child, the table in memory kept as it is.
                Reap();
                Spawn(doorbell, CancellationToken.None);
            }
            else
            {
                throw new InvalidOperationException($"cannot attach to simulated remote process '{Name}': it is not running (state {State})");
            }
            _state = RemoteControlState.Running;
        }
    }

    /// <summary>Crashes the child: SIGKILL, or the fault command that sets NEEDS_RESET and then dies.</summary>
    public void InjectCrash()
    {
        lock (_lock)
        {
            var child = RequireAlive("crash");
            if (_options.CrashMethod == SimulatedCrashMethod.FaultCommand && child.TryWriteLine("crash") && child.WaitForExit(_options.StopTimeout))
            {
                // It scribbled NEEDS_RESET and killed itself.
            }
            else
            {
                child.Kill();
            }
            child.WaitForExit(Timeout.InfiniteTimeSpan);
            _state = RemoteControlState.Crashed;
        }
    }

    /// <summary>Sends one line-protocol command (<see cref="SimulatedRemoteCommands"/>) to the current child; returns the detail after "OK".</summary>
    public string Command(string line, TimeSpan? timeout = null)
    {
        RemoteChildProcess child;
        lock (_lock)
            child = RequireAlive("send a command to");
        return child.Command(line, timeout ?? _options.CommandTimeout);
    }

    /// <summary>
    /// Stops the host device (if <see cref="StartWithHost"/> made one), closes the child's stdin, kills it after
    /// <see cref="SimulatedRemoteProcessOptions.StopTimeout"/> and reaps it; releases the crash watchdog, and
    /// what <see cref="StartWithHost"/> set up (the mapping, the shared file).
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        // The host device goes before the child, outside the lock: its dispose joins its dispatcher thread.
        _host?.Dispose();
        lock (_lock)
        {
            Reap();
            _pendingDoorbell = null;
        }
        DisposeHostSide();
        _watchdogRinger.Dispose();
        _watchdog.Dispose();
    }

    // ---- children ------------------------------------------------------------------------------

    private EventFdDoorbell TakePendingDoorbell(string verb)
    {
        var doorbell = _pendingDoorbell
            ?? throw new InvalidOperationException($"simulated remote process '{Name}' has no doorbell to {verb} with: call CreateHostDoorbell before start/attach (RemoteProcessor does)");
        // The caller owns it; it is only sent once.
        _pendingDoorbell = null;
        return doorbell;
    }

    /// <summary>Spawns a child, passes it the doorbell pair, waits for READY; on failure the child is gone again.</summary>
    private void Spawn(EventFdDoorbell doorbell, CancellationToken cancellationToken)
    {
        string socket = string.Create(CultureInfo.InvariantCulture, $"vrpmsg-proc-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        var args = RemoteChildProcess.RemoteArguments(_shmPath, socket, _options.Services, _options.RemoteWaitStrategy, _options.ExtraArguments);
        using var listener = DescriptorListener.Listen(socket);
        var child = RemoteChildProcess.Create(_options.RemoteCommand ?? SimulatedRemoteProcessOptions.CurrentProcessCommand(), args);
        DescriptorPassing? connection = null;
        lock (_exitLock)
        {
            _exitExpected = false;
            _child = child;
        }
        child.Exited += OnChildExited;
        try
        {
            child.Launch();
            Interlocked.Increment(ref _boots);
            var deadline = Deadline.Within(_options.StartTimeout);
            using var exitedOrCancelled = CancellationTokenSource.CreateLinkedTokenSource(child.ExitedToken, cancellationToken);
            try
            {
                connection = listener.Accept(_options.StartTimeout, exitedOrCancelled.Token);
            }
            catch (OperationCanceledException) when (child.ExitedToken.IsCancellationRequested)
            {
                throw child.ExitedEarly();
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"the simulated remote (pid {child.ProcessId}) did not connect to '@{listener.Name}' within {_options.StartTimeout.TotalSeconds} s; stderr: {child.LastStderrLine()}");
            }
            connection.SendDoorbell(doorbell);
            _endpoints.Clear();
            child.ReadUntilReady(deadline, _endpoints, cancellationToken);
            _connection = connection;
        }
        catch
        {
            connection?.Dispose();
            Reap();
            throw;
        }
    }

    private void OnChildExited(RemoteChildProcess child)
    {
        lock (_exitLock)
        {
            // Rung under the lock: once Reap has marked the exit expected, no late ring can follow.
            if (!ReferenceEquals(child, _child) || _exitExpected)
                return;
            _state = RemoteControlState.Crashed;
            _watchdogRinger.Ring();
        }
        OnCrashed(child);
    }

    /// <summary>Ends the current child (stdin EOF, then kill after the timeout), reaps it, releases its socket.</summary>
    private void Reap()
    {
        var child = _child;
        if (child is not null)
        {
            lock (_exitLock)
                _exitExpected = true;
            child.Shutdown(_options.StopTimeout);
            // Cleared before the dispose: State reads the child without the lock.
            lock (_exitLock)
            {
                _child = null;
                _lastExitCode = child.ExitCode;
            }
            child.Dispose();
        }
        _connection?.Dispose();
        _connection = null;
        _endpoints.Clear();
        _state = RemoteControlState.Offline;
    }

    private RemoteChildProcess RequireAlive(string verb)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_child is not { HasExited: false } child)
            throw new InvalidOperationException($"cannot {verb} simulated remote process '{Name}': it is not running (state {State})");
        return child;
    }

    /// <summary>Name, process id and state, for logs.</summary>
    public override string ToString() => $"simulated remote process '{Name}' (pid {ProcessId}, {State})";
}
