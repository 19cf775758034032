using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The host's view of one remote processor: a state machine (offline, starting, running, crashed,
/// recovering, stopped, detached) over a platform's memory and resource table, a control backend that
/// powers the remote, and per vdev one fresh host <see cref="RpmsgDevice"/> per boot, attach or recovery
/// (<see cref="Devices"/>; a platform with <c>additionalVdevs</c> has several, each with its own rings,
/// buffers and doorbell). A crash of the remote, or of any one of its vdevs, recovers the whole remote,
/// every vdev with it, as Linux's <c>rproc_trigger_recovery</c> does. See docs/lifecycle.md for the
/// diagram, the teardown order and what attach means.
/// </summary>
/// <remarks>
/// <para>Thread-safe: transitions are serialized; events are raised on the thread doing the
/// transition (crash detection and automatic recovery run on the monitor thread), after the step they
/// report. Calling a transition from one of this object's event handlers throws.</para>
/// <para>Service drivers are registered once here (<see cref="RegisterDriver"/>) and re-registered on
/// every fresh device of every vdev, so their channels come back after recovery like Linux rpmsg drivers do.</para>
/// </remarks>
public sealed partial class RemoteProcessor : IDisposable
{
    private readonly PlatformResources _platform;
    private readonly IRemoteProcessorControl _control;
    private readonly RemoteProcessorOptions _options;
    private readonly ILogger _log;
    private readonly object _transition = new();
    private readonly object _driversLock = new();
    private readonly List<RpmsgServiceDriver> _drivers = [];
    private readonly object _channelGate = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _monitor;

    private volatile RemoteProcessorState _state = RemoteProcessorState.Offline;
    private volatile RemoteProcessorSession? _session;
    private volatile bool _disposed;
    private volatile bool _recoveryRequested;
    private bool _disposePending; // under _transition: Dispose was called inside a transition, which completes it
    private PendingCrash? _pendingCrash;
    private long _lastHeartbeat;
    private long _channelEpoch;
    private int _sessionIds;
    private int _crashes;
    private int _recoveries;
    private string? _lastCrashReason;
    private Fault? _lastCrashFault;

    // The processor whose event this thread is raising: its transitions refuse to nest.
    [ThreadStatic]
    private static RemoteProcessor? t_raising;

    /// <summary>
    /// Creates the state machine (offline) over a host platform that has a resource table. Neither
    /// <paramref name="platform"/> nor <paramref name="control"/> is owned: dispose them after this.
    /// </summary>
    public RemoteProcessor(PlatformResources platform, IRemoteProcessorControl control, RemoteProcessorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(control);
        options ??= new RemoteProcessorOptions();
        // A backend that knows when the remote died supplies the watchdog unless the caller chose one.
        if (options.WatchdogDoorbell is null && control is IRemoteCrashSignal signal)
            options = options with { WatchdogDoorbell = signal.CrashWatchdog };
        options.Validate();
        if (platform.Role != PlatformRole.Host)
            throw new ArgumentException($"A remote processor is driven from the host; the platform's role is {platform.Role}.", nameof(platform));
        if (platform.ResourceTableRegion is null)
            throw new ArgumentException("The platform description has no resource table (resourceTable is \"none\"); remoteproc needs one.", nameof(platform));
        if (platform.Vdevs.Count > 1)
            RequireDoorbellPerVdev(platform, control, options);
        _platform = platform;
        _control = control;
        _options = options;
        _log = options.Logger;
        _monitor = new Thread(MonitorMain) { IsBackground = true, Name = $"rproc-{control.Name}" };
        _monitor.Start();
    }

    /// <summary>The remote's name (from the control backend).</summary>
    public string Name => _control.Name;

    /// <summary>Current state.</summary>
    public RemoteProcessorState State => _state;

    /// <summary>Vdev 0's current host device; null unless starting, running or recovering. A new one after every recovery.</summary>
    public RpmsgDevice? Device => _session?.Device;

    /// <summary>
    /// The current host device of every vdev, in vdev order (0 is <see cref="Device"/>); empty unless
    /// starting, running or recovering. All of them are new after every recovery.
    /// </summary>
    public IReadOnlyList<RpmsgDevice> Devices => _session?.Devices() ?? [];

    /// <summary>The control backend.</summary>
    public IRemoteProcessorControl Control => _control;

    /// <summary>The platform (memory, resource table) this runs over.</summary>
    public PlatformResources Platform => _platform;

    /// <summary>The options given at construction.</summary>
    public RemoteProcessorOptions Options => _options;

    /// <summary>Crashes reported so far.</summary>
    public int CrashCount => Volatile.Read(ref _crashes);

    /// <summary>Recoveries completed so far.</summary>
    public int RecoveryCount => Volatile.Read(ref _recoveries);

    /// <summary>Reason of the last crash, if any.</summary>
    public string? LastCrashReason => Volatile.Read(ref _lastCrashReason);

    /// <summary>
    /// When the last crash was the rpmsg device breaking (a protocol violation by the peer), the
    /// structured fault that broke it; null for crashes with another cause (status byte, heartbeat,
    /// watchdog, <see cref="ReportCrash"/>).
    /// </summary>
    public Fault? LastCrashFault => Volatile.Read(ref _lastCrashFault);

    /// <summary>Raised after every state change, with the old and the new state.</summary>
    public event Action<RemoteProcessorState, RemoteProcessorState>? StateChanged;

    /// <summary>A channel was added on a current device (forwarded from it, on its dispatcher; <see cref="RpmsgChannel.Device"/> tells which vdev).</summary>
    public event Action<RpmsgChannel>? ChannelAdded;

    /// <summary>A channel was removed from a current device (peer's destroy, or teardown).</summary>
    public event Action<RpmsgChannel>? ChannelRemoved;

    /// <summary>A crash was reported (with its reason), before the local teardown.</summary>
    public event Action<string>? CrashReported;

    /// <summary>A recovery completed: a fresh device is running.</summary>
    public event Action<RemoteRecoveryMode>? RecoveryFinished;

    /// <summary>Tells the watchdog the remote is alive (only meaningful with <see cref="RemoteProcessorOptions.HeartbeatTimeout"/>).</summary>
    public void Heartbeat() => Volatile.Write(ref _lastHeartbeat, Environment.TickCount64);

    // ---- transitions ---------------------------------------------------------------------------

    /// <summary>
    /// Boots the remote: load the firmware (or wait for the remote's table), start it, set up a fresh vdev. Offline or
    /// stopped only, and only when the control does not report the remote up (running, attached or detached: booted by
    /// someone else, or left running): that is refused before anything is touched (<see cref="Attach"/> to it instead).
    /// </summary>
    public void Start() => Transition("start", s => s is RemoteProcessorState.Offline or RemoteProcessorState.Stopped, previous =>
    {
        // Before SetUp: its failure path powers the remote off, and the boot would invalidate the running remote's table.
        var remote = _control.State;
        if (remote is RemoteControlState.Running or RemoteControlState.Attached or RemoteControlState.Detached)
            throw new InvalidOperationException($"remote processor '{Name}' cannot start: its control reports the remote {remote} (booted by someone "
                + "else, or left running); nothing was loaded or changed. Attach to it, or stop it through Control.Stop() and start again");
        SetUp(previous, BootCore, "boot", stopRemoteOnFailure: true);
    });

    /// <summary>
    /// Attaches to a remote that is already running: its resource table is taken as it is, the vdev is
    /// reset (the only remote state touched) and a fresh host device set up. Offline, stopped or detached only.
    /// </summary>
    public void Attach() => Transition("attach", s => s is RemoteProcessorState.Offline or RemoteProcessorState.Stopped or RemoteProcessorState.Detached,
        previous => SetUp(previous, AttachCore, "attach", stopRemoteOnFailure: false));

    /// <summary>Leaves the remote running and releases everything local (teardown order in docs/lifecycle.md). Running only.</summary>
    /// <remarks>If the control refuses (throws), everything local is released anyway and the state becomes Crashed (see <see cref="Stop"/>).</remarks>
    public void Detach() => Transition("detach", s => s == RemoteProcessorState.Running, _ =>
    {
        TearDownOnRequest("detach", "detached", TeardownKind.Detach);
        SetState(RemoteProcessorState.Detached);
    });

    /// <summary>Tears everything local down and powers the remote off. Running, crashed or detached only.</summary>
    /// <remarks>
    /// If the control refuses while running (e.g. the kernel answers EBUSY), everything local is released anyway, the
    /// state becomes <see cref="RemoteProcessorState.Crashed"/> (<see cref="LastCrashReason"/> says why; no crash is
    /// counted or recovered automatically) and the control's exception is rethrown: Stop again, or Recover.
    /// </remarks>
    public void Stop() => Transition("stop", s => s is RemoteProcessorState.Running or RemoteProcessorState.Crashed or RemoteProcessorState.Detached, previous =>
    {
        if (previous == RemoteProcessorState.Running)
            TearDownOnRequest("stop", "stopped", TeardownKind.Stop);
        else
            _control.Stop();
        SetState(RemoteProcessorState.Stopped);
    });

    /// <summary>
    /// The teardown of a stop or detach from Running. A failure (the control refusing) still released the devices, the
    /// doorbells and the mapping, and the remote's state is unknown: Crashed, not Running without a device (which the
    /// monitor would never look at again), so Stop (to retry the power-off) or Recover can act.
    /// </summary>
    private void TearDownOnRequest(string verb, string reason, TeardownKind kind)
    {
        try
        {
            TearDown(reason, kind);
        }
        catch (Exception e)
        {
            Volatile.Write(ref _lastCrashFault, null);
            Volatile.Write(ref _lastCrashReason, $"{verb} failed: {e.Message}");
            _log.LogError(e, "remote processor {Name}: {Verb} failed; everything local is released, state Crashed", Name, verb);
            SetState(RemoteProcessorState.Crashed);
            throw;
        }
    }

    /// <summary>Reports a crash (an application's own detection): teardown, then recovery if configured. Running only.</summary>
    public void ReportCrash(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        Transition("report a crash", s => s == RemoteProcessorState.Running, _ => CrashCore(reason));
    }

    /// <summary>Recovers a crashed remote with the configured <see cref="RemoteProcessorOptions.RecoveryMode"/>. Crashed only.</summary>
    public void Recover() => Transition("recover", s => s == RemoteProcessorState.Crashed, _ => RecoverCore());

    private void Transition(string verb, Func<RemoteProcessorState, bool> allowed, Action<RemoteProcessorState> body)
    {
        if (ReferenceEquals(t_raising, this))
            throw new InvalidOperationException($"remote processor '{Name}': cannot {verb} from inside one of its own event handlers (state {_state})");
        MappingLease.ThrowIfHeld($"RemoteProcessor.{verb}");
        Locked(verb, () =>
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var state = _state;
            if (!allowed(state))
                throw new InvalidOperationException($"remote processor '{Name}' cannot {verb} in state {state}");
            body(state);
        });
    }

    private void CrashCore(string reason, Fault? fault = null)
    {
        Interlocked.Increment(ref _crashes);
        Volatile.Write(ref _lastCrashFault, fault);
        Volatile.Write(ref _lastCrashReason, reason);
        _log.LogWarning("remote processor {Name}: crash reported: {Reason}", Name, reason);
        Raise(() => CrashReported?.Invoke(reason));
        TearDown("crashed: " + reason, TeardownKind.Crash);
        SetState(RemoteProcessorState.Crashed);
        if (_options.AutoRecover)
        {
            _recoveryRequested = true;
            WakeMonitor();
        }
    }

    private void RecoverCore()
    {
        SetState(RemoteProcessorState.Recovering);
        var mode = _options.RecoveryMode;
        try
        {
            if (mode == RemoteRecoveryMode.Boot)
            {
                // A dead remote still has to be powered off (and, for a process, reaped) before booting again.
                _control.Stop();
                BootCore();
            }
            else
            {
                AttachCore(clean: _presentedTable);
            }
        }
        catch (Exception e)
        {
            AbortSetUp("recovery failed: " + e.Message, stopRemote: mode == RemoteRecoveryMode.Boot);
            SetState(RemoteProcessorState.Crashed);
            // A Recover that a lease of the application failed: with AutoRecover, the next one starts once it ended.
            if (LeasedRegion() is { } leased)
                AwaitLeases(leased);
            _log.LogError(e, "remote processor {Name}: {Mode} recovery failed", Name, mode);
            throw;
        }
        Interlocked.Increment(ref _recoveries);
        SetState(RemoteProcessorState.Running);
        Raise(() => RecoveryFinished?.Invoke(mode));
    }

    private void SetState(RemoteProcessorState next)
    {
        var old = _state;
        _state = next;
        if (next != RemoteProcessorState.Crashed)
            _recoveryAwaitsLeases = false; // left Crashed: nothing to recover (a later crash asks again)
        PulseChannelWaiters();
        if (old != next)
            Raise(() => StateChanged?.Invoke(old, next));
    }

    private void Raise(Action action)
    {
        var outer = t_raising;
        t_raising = this;
        try
        {
            action();
        }
        catch (Exception e)
        {
            _log.LogError(e, "remote processor {Name}: event handler threw", Name);
        }
        finally
        {
            t_raising = outer;
        }
    }

    private void PulseChannelWaiters()
    {
        lock (_channelGate)
        {
            Interlocked.Increment(ref _channelEpoch);
            Monitor.PulseAll(_channelGate);
        }
    }

    /// <summary>Name, state and crash/recovery counts, for logs.</summary>
    public override string ToString() => $"remote processor '{Name}' ({_state}, {_crashes} crashes, {_recoveries} recoveries)";
}
