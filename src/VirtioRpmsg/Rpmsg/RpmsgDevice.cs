using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// An rpmsg bus over one virtio device (two vrings and a buffer pool), in either role. Thread-safe:
/// any number of threads may send; callbacks run on the dispatcher (or inside <see cref="Poll"/>).
/// This type is the facade and the state machine (Created, Starting, Running, then Broken or Stopped);
/// the work is done by its parts: <see cref="RpmsgVdevNegotiation"/>, <see cref="RpmsgEndpointTable"/>,
/// <see cref="RpmsgNameService"/>, <see cref="RpmsgTxPath"/>, <see cref="RpmsgRxDispatcher"/>, <see cref="RpmsgDispatcherThread"/>, <see cref="RpmsgDataGate"/>, <see cref="RpmsgDeviceCounters"/>.
/// </summary>
public sealed partial class RpmsgDevice : IDisposable
{
    private readonly RpmsgVdevLayout _layout;
    private readonly object _sync = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly RpmsgVdevNegotiation _vdev;
    private readonly RpmsgEndpointTable _endpoints;
    private readonly RpmsgNameService _nameService;
    private readonly RpmsgDispatcherThread? _thread;

    /// <summary>The dispatcher thread (null under CallerPoll; tests).</summary>
    internal RpmsgDispatcherThread? DispatcherThread => _thread;
    private readonly RpmsgLinkUp _linkUp;

    private volatile IRpmsgTransport? _transport;
    private volatile RpmsgDeviceState _state = RpmsgDeviceState.Created;
    private Fault? _fault;
    private string? _stopReason;
    private uint _features;
    private int _linkingUp;

    private RpmsgDevice(RpmsgRole role, RpmsgVdevLayout layout, IVdevControl control, IDoorbell doorbell, RpmsgDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(doorbell);
        options.Validate();
        layout.Validate(role);
        CheckNameServiceFits(layout.BufferSize, options.NameService, $"{nameof(layout)}.{nameof(RpmsgVdevLayout.BufferSize)}");
        Role = role;
        _layout = layout;
        Doorbell = doorbell;
        Options = options;
        _vdev = new RpmsgVdevNegotiation(layout, control, doorbell, options.Name);
        CounterSet = new RpmsgDeviceCounters(options.Name, options.Logger);
        Gate = new RpmsgDataGate(this);
        QueueBudget = new RpmsgQueueBudget(options.MaxQueuedBytes);
        _linkUp = new RpmsgLinkUp(this);
        _endpoints = new RpmsgEndpointTable(options.Name, options.MaxEndpoints);
        _nameService = new RpmsgNameService(this, _sync, _endpoints, CounterSet);
        Tx = new RpmsgTxPath(this, Gate, CounterSet);
        Rx = new RpmsgRxDispatcher(this, _endpoints, CounterSet, Gate, layout.BufferSize, layout.BufferCount);
        if (RpmsgDispatcherThread.HasThread(options.WaitStrategy))
            _thread = new RpmsgDispatcherThread(this, Rx, Tx);
        RpmsgMetrics.Register(this);
    }

    // A name-service message must fit one buffer: otherwise every announcement fails where it is sent (a remote's at
    // link-up, on its dispatcher thread, which then broke the device as "dispatcher failed"), and none from the peer fits.
    internal static void CheckNameServiceFits(int bufferSize, bool nameService, string paramName)
    {
        const int needed = RpmsgHeader.Size + NameServiceMessage.Size;
        if (nameService && bufferSize < needed)
            throw new ArgumentOutOfRangeException(paramName, bufferSize,
                $"BufferSize {bufferSize} cannot carry a name-service message ({needed} bytes with its header); use buffers of at least {needed} bytes, or set RpmsgDeviceOptions.NameService to false.");
    }

    /// <summary>Creates the host (virtio driver) side. Call <see cref="Start"/> to negotiate and go live.</summary>
    public static RpmsgDevice CreateHost(RpmsgVdevLayout layout, IVdevControl control, IDoorbell doorbell, RpmsgDeviceOptions? options = null) =>
        new(RpmsgRole.Host, layout, control, doorbell, options ?? new RpmsgDeviceOptions());

    /// <summary>Creates the remote (virtio device) side. After <see cref="Start"/> it waits for the host's DRIVER_OK.</summary>
    public static RpmsgDevice CreateRemote(RpmsgVdevLayout layout, IVdevControl control, IDoorbell doorbell, RpmsgDeviceOptions? options = null) =>
        new(RpmsgRole.Remote, layout, control, doorbell, options ?? new RpmsgDeviceOptions());

    /// <summary>The role this side plays.</summary>
    public RpmsgRole Role { get; }

    /// <summary>The options the device was created with.</summary>
    public RpmsgDeviceOptions Options { get; }

    /// <summary>Device name (from the options).</summary>
    public string Name => Options.Name;

    /// <summary>Current state.</summary>
    public RpmsgDeviceState State => _state;

    /// <summary>
    /// Why the device is <see cref="RpmsgDeviceState.Broken"/>: the first protocol violation, with its
    /// layer, rule, field and value (from a virtqueue or from the rpmsg layer); null otherwise. Read it
    /// from <see cref="StateChanged"/> to decide on recovery.
    /// </summary>
    public Fault? Fault => Volatile.Read(ref _fault);

    /// <summary>
    /// Why the device is <see cref="RpmsgDeviceState.Broken"/> or <see cref="RpmsgDeviceState.Stopped"/>,
    /// for people: derived from <see cref="Fault"/> (its message), or the reason given to <see cref="Stop"/>; else null.
    /// </summary>
    public string? StateReason => Fault?.Message ?? _stopReason;

    /// <summary>Largest payload of one message (buffer size minus the 16-byte header).</summary>
    public int MaxPayload => _layout.BufferSize - RpmsgHeader.Size;

    /// <summary>The negotiated feature bits (valid once running).</summary>
    public uint NegotiatedFeatures => _features;

    /// <summary>True when both sides agreed on the name service.</summary>
    public bool NameServiceEnabled => (_features & RpmsgFeatures.NameService) != 0;

    /// <summary>Raised when the state changes (on the thread that changed it).</summary>
    public event Action<RpmsgDevice, RpmsgDeviceState>? StateChanged;

    /// <summary>Raised after a channel was created and probed.</summary>
    public event Action<RpmsgChannel>? ChannelAdded;
    /// <summary>Raised after a channel was removed.</summary>
    public event Action<RpmsgChannel>? ChannelRemoved;

    /// <summary>Raised for an announcement whose name no registered driver handles (name, remote address).</summary>
    public event Action<string, uint>? UnboundService;

    /// <summary>Raised for every name-service destroy the peer sends (name, its address), whether or not a channel was bound: a remote learns so that the host is done with its service.</summary>
    public event Action<string, uint>? ServiceDestroyed;

    /// <summary>The current channels.</summary>
    public IReadOnlyList<RpmsgChannel> Channels => _nameService.Channels;

    /// <summary>The current endpoints (the name-service endpoint included when enabled).</summary>
    public IReadOnlyList<RpmsgEndpoint> Endpoints => _endpoints.Snapshot();

    /// <summary>A snapshot of the counters.</summary>
    public RpmsgCounters Counters => CounterSet.Snapshot();

    internal RpmsgDeviceCounters CounterSet { get; }
    internal RpmsgDataGate Gate { get; }
    internal RpmsgQueueBudget QueueBudget { get; }
    internal RpmsgTxPath Tx { get; }
    internal RpmsgRxDispatcher Rx { get; }
    internal RpmsgZeroCopyFence ZeroCopy { get; } = new();
    internal IDoorbell Doorbell { get; }
    internal IRpmsgTransport? Transport => _transport;
    internal CancellationToken StopToken => _stop.Token;
    internal bool HasDispatcherThread => _thread is { IsStarted: true };

    /// <summary>True while the dispatcher thread runs (started and not ended).</summary>
    internal bool DispatcherThreadAlive => _thread is { IsAlive: true };
    internal bool IsDispatcherContext => Rx.IsDispatcherContext;

    /// <summary>Test hook: Stop is about to wait for a channel's Probe still running on another thread.</summary>
    internal Action? WaitingForProbe { get; set; }

    /// <summary>Test hook: the peer's DESTROY took a channel off the list; its endpoint is not yet destroyed or unpublished.</summary>
    internal Action<RpmsgEndpoint>? ChannelDestroying { get; set; }

    /// <summary>Test hook: a failed Probe's channel endpoint was unpublished (its address is free for the next endpoint).</summary>
    internal Action<RpmsgEndpoint>? ProbeFailedUnpublished { get; set; }

    /// <summary>Announcements no registered driver handles yet (tests).</summary>
    internal int UnboundServiceCount => _nameService.UnboundCount;

    /// <summary>The services the peer announced and has not withdrawn, whether a driver bound them or not (for what a wait for a channel reports).</summary>
    internal string[] AnnouncedServiceNames => _nameService.AnnouncedNames;

    internal void RaiseChannelAdded(RpmsgChannel channel) => CounterSet.Raise(() => ChannelAdded?.Invoke(channel));
    internal void RaiseChannelRemoved(RpmsgChannel channel) => CounterSet.Raise(() => ChannelRemoved?.Invoke(channel));
    internal void RaiseUnboundService(string name, uint address) => CounterSet.Raise(() => UnboundService?.Invoke(name, address));
    internal void RaiseServiceDestroyed(string name, uint address) => CounterSet.Raise(() => ServiceDestroyed?.Invoke(name, address));

    /// <summary>
    /// Goes live. Host: reset, negotiate features, set up the rings, post the rx buffers, DRIVER_OK.
    /// Remote: wait (on the dispatcher, or in <see cref="Poll"/>) for the host's DRIVER_OK.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device was started already.</exception>
    public void Start()
    {
        lock (_sync)
        {
            if (_state != RpmsgDeviceState.Created)
                throw new InvalidOperationException($"rpmsg device '{Name}' was already started (state {_state})");
            if (Role == RpmsgRole.Remote)
                _vdev.RecordOffer(); // before any link-up can look (a Poll may, once the state is Starting)
            _state = RpmsgDeviceState.Starting;
        }
        RaiseState(RpmsgDeviceState.Starting);
        if (Role == RpmsgRole.Host)
        {
            uint supported = (Options.NameService ? RpmsgFeatures.NameService : 0) | (Options.EventIndex ? VirtioFeatures.EventIndex : 0);
            var transport = _vdev.NegotiateAsHost(supported, out uint accepted);
            GoLive(transport, accepted);
        }
        _thread?.Start();
    }

    /// <summary>Remote role: completes the link once the host wrote DRIVER_OK (one caller at a time, only while Starting, as a data operation).</summary>
    internal bool TryCompleteRemoteLinkUp()
    {
        if (Interlocked.CompareExchange(ref _linkingUp, 1, 0) != 0)
            return false;
        bool entered = false;
        try
        {
            if (!(entered = Gate.TryEnterStarting()))
                return _state == RpmsgDeviceState.Running;
            var transport = _vdev.TryAcceptAsRemote(out uint accepted, out var fault);
            if (fault is not null)
                Break(fault);
            if (transport is null)
                return false;
            GoLive(transport, accepted);
            return true;
        }
        finally
        {
            if (entered)
                Gate.Exit();
            Volatile.Write(ref _linkingUp, 0);
        }
    }

    private void GoLive(IRpmsgTransport transport, uint features)
    {
        Rx.CreateHeldBuffers(Math.Max(_layout.VringNum, _layout.BufferCount));
        // CallerPoll: nobody waits on the doorbell, so the peer is asked not to kick from the first message on.
        if (!RpmsgDispatcherThread.HasThread(Options.WaitStrategy))
            transport.DisableRxNotifications();
        List<RpmsgEndpoint> toAnnounce = [];
        lock (_sync)
        {
            if (_state != RpmsgDeviceState.Starting)
            {
                transport.Dispose();
                return;
            }
            // Host: DRIVER_OK before Running, so no send (an announcement, a sender woken by link-up) kicks before it.
            if (Role == RpmsgRole.Host)
                _vdev.WriteDriverOk();
            _transport = transport;
            _features = features;
            if (NameServiceEnabled)
                _endpoints.Add(_nameService.CreateEndpoint());
            _state = RpmsgDeviceState.Running;
            // Taken under the lock that CreateNamedEndpoint and DestroyEndpoint also hold: each CREATE is sent once,
            // and none for an endpoint destroyed before it was sent.
            BeginWithdrawals();
            foreach (var ept in _endpoints.Named())
            {
                if (RpmsgNameService.BeginAnnounce(ept))
                    toAnnounce.Add(ept);
            }
        }
        if (Role == RpmsgRole.Host)
            _vdev.RingDriverOk();
        _linkUp.Complete();
        RaiseState(RpmsgDeviceState.Running);
        SendLinkUpAnnouncements(toAnnounce); // RpmsgDevice.Resume.cs
    }

    /// <summary>Waits until the link is up; false on timeout. Throws if the device stops or breaks first.</summary>
    public bool WaitForLinkUp(TimeSpan timeout, CancellationToken cancellationToken = default) => _linkUp.Wait(timeout, cancellationToken);

    /// <summary>The link came up at some point, stopped since or not (a vhost-user device resumed on the same rings has a ready driver).</summary>
    internal bool LinkCameUp => _linkUp.CameUp;

    /// <summary>Waits asynchronously until the link is up; false on timeout. Faults with <see cref="RpmsgDeviceUnavailableException"/> if the device stops or breaks first.</summary>
    public ValueTask<bool> WaitForLinkUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => _linkUp.WaitAsync(timeout, cancellationToken);

    // ---- endpoints, drivers, polling ---------------------------------------------------------------

    /// <summary>Creates an endpoint whose messages go to <paramref name="handler"/>. <paramref name="address"/> may be <see cref="RpmsgAddress.Any"/>.</summary>
    /// <exception cref="ArgumentException">The address is taken, or is the name service's (53).</exception>
    /// <exception cref="InvalidOperationException">The endpoint table is full (<see cref="RpmsgDeviceOptions.MaxEndpoints"/>) or no dynamic address is free.</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke.</exception>
    public RpmsgEndpoint CreateEndpoint(uint address, RpmsgReceiveHandler handler, uint remoteAddress = RpmsgAddress.Any)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddEndpoint(address, remoteAddress, handler, null, null);
    }

    /// <summary>Creates a queue-style endpoint, read with <see cref="RpmsgEndpoint.ReceiveAsync"/> or <see cref="RpmsgEndpoint.Receive"/>.</summary>
    /// <exception cref="ArgumentException">The address is taken, or is the name service's (53).</exception>
    /// <exception cref="InvalidOperationException">The endpoint table is full (<see cref="RpmsgDeviceOptions.MaxEndpoints"/>) or no dynamic address is free.</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke.</exception>
    public RpmsgEndpoint CreateEndpoint(uint address = RpmsgAddress.Any, uint remoteAddress = RpmsgAddress.Any) =>
        AddEndpoint(address, remoteAddress, null, null, null);

    /// <summary>Creates an endpoint that receives in place (zero-copy).</summary>
    /// <exception cref="ArgumentException">The address is taken, or is the name service's (53).</exception>
    /// <exception cref="InvalidOperationException">The endpoint table is full (<see cref="RpmsgDeviceOptions.MaxEndpoints"/>) or no dynamic address is free.</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke.</exception>
    public RpmsgEndpoint CreateZeroCopyEndpoint(uint address, RpmsgZeroCopyReceiveHandler handler, uint remoteAddress = RpmsgAddress.Any)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddEndpoint(address, remoteAddress, null, handler, null);
    }

    /// <summary>
    /// Creates an endpoint and announces it under <paramref name="serviceName"/> through the name service
    /// (now if the link is up, otherwise at link-up). Disposing it announces the destroy.
    /// </summary>
    /// <exception cref="ArgumentException">The address is taken, or is the name service's (53).</exception>
    /// <exception cref="InvalidOperationException">The endpoint table is full (<see cref="RpmsgDeviceOptions.MaxEndpoints"/>) or no dynamic address is free.</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke.</exception>
    public RpmsgEndpoint CreateNamedEndpoint(string serviceName, uint address, RpmsgReceiveHandler? handler, uint remoteAddress = RpmsgAddress.Any)
    {
        NameServiceMessage.ValidateName(serviceName, nameof(serviceName));
        var ept = AddEndpoint(address, remoteAddress, handler, null, serviceName, out bool announce);
        if (announce)
            _nameService.AnnounceCreate(ept);
        return ept;
    }

    private RpmsgEndpoint AddEndpoint(uint address, uint remoteAddress, RpmsgReceiveHandler? handler, RpmsgZeroCopyReceiveHandler? zeroCopy, string? name) =>
        AddEndpoint(address, remoteAddress, handler, zeroCopy, name, out _);

    /// <summary>Publishes a new endpoint; <paramref name="announce"/>: a named one added while Running, whose CREATE is the caller's (else GoLive's).</summary>
    private RpmsgEndpoint AddEndpoint(uint address, uint remoteAddress, RpmsgReceiveHandler? handler, RpmsgZeroCopyReceiveHandler? zeroCopy, string? name, out bool announce)
    {
        lock (_sync)
        {
            var state = _state;
            if (state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
                throw Unavailable(state);
            var ept = new RpmsgEndpoint(this, _endpoints.Claim(address), remoteAddress, handler, zeroCopy, Options.EndpointQueueCapacity) { Name = name };
            _endpoints.Add(ept);
            if (name is not null)
                KeepAnnouncement(name, ept.Address); // may wait (the lock released) for its withdrawal at link-up to go out
            announce = name is not null && _state == RpmsgDeviceState.Running && RpmsgNameService.BeginAnnounce(ept);
            return ept;
        }
    }

    /// <summary>Destroys an endpoint: mark it destroyed and pass the tx gate, announce the destroy if it was named, unpublish, then wait out running callbacks.</summary>
    internal void DestroyEndpoint(RpmsgEndpoint ept)
    {
        RpmsgChannel? channel = null;
        bool removed, sendDestroy = false, destroySent = false;
        // Destroyed, and the tx gate passed once, before the address is free for the next endpoint: a send of this one
        // that found it alive under the tx gate is on the ring by then, and every later one is refused (RpmsgTxPath.TryCopy).
        // A send that went out with this address after Dispose returned would reach the peer as the next endpoint's.
        bool first = ept.MarkDestroyed();
        if (first)
            Tx.Fence();
        // A named endpoint's DESTROY goes out while the address is still ours, as Linux announces before it frees it: sent
        // after, it could follow the CREATE of a new endpoint of the same service at the same (lowest free) address, and
        // the peer would withdraw that one. Its CREATE still being sent is waited for (ended at once if it waits for a
        // tx buffer: the endpoint is destroyed), so the DESTROY follows a CREATE that went out.
        if (first && ept.Name is not null)
        {
            lock (_sync)
            {
                if (_endpoints.TryGet(ept.Address, out var published) && ReferenceEquals(published, ept))
                {
                    _nameService.WaitForCreateSent(ept);
                    // Also when its own CREATE never went out: an earlier device's on the same driver may have (Resume.cs).
                    sendDestroy = RpmsgNameService.Withdraw(ept, PeerHolds(ept.Name, ept.Address));
                }
            }
            if (sendDestroy && _state == RpmsgDeviceState.Running)
                destroySent = _nameService.Announce(ept.Name, ept.Address, NameServiceFlags.Destroy);
        }
        lock (_sync)
        {
            // Only the first destroy frees the address: a second Dispose racing it would free it while the first still
            // sends the DESTROY, and a new endpoint of the service could take it and be withdrawn by that DESTROY.
            removed = first && _endpoints.Remove(ept);
            if (sendDestroy)
                ept.AnnounceState = RpmsgAnnounceState.Withdrawn; // its DESTROY was tried; a stop before this recorded it
            if (destroySent)
                ForgetAnnouncement(ept.Name!, ept.Address); // still our address: no CREATE of another endpoint came between
            if (removed && ept.Channel is { } ch && _nameService.Forget(ch))
                channel = ch;
            // A named endpoint removed here was withdrawn above, still published then: any other removal meanwhile (Stop,
            // the peer's DESTROY, a failed Probe) leaves `removed` false.
        }
        // Even when someone else (Stop, a concurrent Dispose, which frees the address) destroyed it, this Dispose must
        // not return while a callback is still running.
        ept.WaitForCallbacks();
        if (!removed || !first)
            return;
        if (channel is not null)
            _nameService.RunRemove(channel, waitForProbe: false);
    }

    /// <summary>
    /// Caller-driven dispatch (<see cref="RpmsgWaitStrategy.CallerPoll"/>, or extra polling in any mode):
    /// handles what is pending now, wakes blocked senders if buffers came back, and returns the number
    /// of messages handled. Never blocks.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called inside a receive callback (the rx ring is being dispatched already).</exception>
    public int Poll() => Rx.Poll();

    /// <summary>A text dump of the device: state, features, rings, buffers, endpoints, channels, counters.</summary>
    public string Dump() => RpmsgDeviceDump.Format(this, _layout, _transport);

    /// <summary>Name, role and state, for logs.</summary>
    public override string ToString() => $"rpmsg device '{Name}' ({Role}, {_state})";
}
