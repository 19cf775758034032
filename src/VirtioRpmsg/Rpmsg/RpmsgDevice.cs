using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// An rpmsg bus over one virtio device (two vrings and a buffer pool), in either role. Owns the
/// endpoint table, the name service, the channels and the receive dispatcher. Thread-safe: any
/// number of threads may send; callbacks run on the dispatcher (or inside <see cref="Poll"/>).
/// </summary>
public sealed partial class RpmsgDevice : IDisposable
{
    private readonly RpmsgVdevLayout _layout;
    private readonly IVdevControl _control;
    private readonly IDoorbell _doorbell;
    private readonly ILogger _log;
    private readonly object _sync = new();
    private readonly ConcurrentDictionary<uint, RpmsgEndpoint> _endpoints = new();
    private readonly List<RpmsgChannel> _channels = [];
    private readonly Dictionary<string, RpmsgServiceDriver> _drivers = new(StringComparer.Ordinal);
    private readonly List<(string Name, uint Address)> _unbound = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _linkUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _armLock = new();
    private readonly byte[] _rxScratch;

    private IRpmsgTransport? _transport;
    private RpmsgRxBuffer[] _rxBuffers = [];
    private Thread? _dispatcher;
    private volatile RpmsgDeviceState _state = RpmsgDeviceState.Created;
    private Fault? _fault;
    private string? _stopReason;
    private VirtioStatus _writtenStatus;
    private uint _features;
    private TaskCompletionSource _txSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _txWaiters;

    private long _txMessages;
    private long _rxMessages;
    private long _txBufferWaits;
    private long _dropped;
    private long _errors;
    private long _callbackErrors;
    private long _nsDuplicates;

    private RpmsgDevice(RpmsgRole role, RpmsgVdevLayout layout, IVdevControl control, IDoorbell doorbell, RpmsgDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(doorbell);
        options.Validate();
        layout.Validate();
        Role = role;
        _layout = layout;
        _control = control;
        _doorbell = doorbell;
        Options = options;
        _log = options.Logger;
        _rxScratch = new byte[layout.BufferSize];
        RpmsgMetrics.Register(this);
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
    public Fault? Fault => _fault;

    /// <summary>
    /// Why the device is <see cref="RpmsgDeviceState.Broken"/> or <see cref="RpmsgDeviceState.Stopped"/>,
    /// for people: the fault's message, or the reason given to <see cref="Stop"/>; else null.
    /// </summary>
    public string? StateReason => _fault?.Message ?? _stopReason;

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

    /// <summary>The current channels.</summary>
    public IReadOnlyList<RpmsgChannel> Channels
    {
        get
        {
            lock (_sync)
                return _channels.ToArray();
        }
    }

    /// <summary>The current endpoints (the name-service endpoint included when enabled).</summary>
    public IReadOnlyList<RpmsgEndpoint> Endpoints => _endpoints.Values.OrderBy(e => e.Address).ToArray();

    /// <summary>A snapshot of the counters.</summary>
    public RpmsgCounters Counters => new(
        Interlocked.Read(ref _txMessages), Interlocked.Read(ref _rxMessages), Interlocked.Read(ref _txBufferWaits),
        Interlocked.Read(ref _dropped), Interlocked.Read(ref _errors), Interlocked.Read(ref _callbackErrors),
        Interlocked.Read(ref _nsDuplicates));

    // ---- start / link up ---------------------------------------------------------------------

    /// <summary>
    /// Goes live. Host: reset, negotiate features, set up the rings, post the rx buffers, DRIVER_OK.
    /// Remote: wait (on the dispatcher, or in <see cref="Poll"/>) for the host's DRIVER_OK.
    /// </summary>
    public void Start()
    {
        lock (_sync)
        {
            if (_state != RpmsgDeviceState.Created)
                throw new InvalidOperationException($"rpmsg device '{Name}' was already started (state {_state})");
            SetState(RpmsgDeviceState.Starting);
        }
        RaiseState(RpmsgDeviceState.Starting);
        if (Role == RpmsgRole.Host)
            StartHost();
        if (Options.WaitStrategy != RpmsgWaitStrategy.CallerPoll)
        {
            _dispatcher = new Thread(DispatcherMain) { IsBackground = true, Name = $"rpmsg-{Name}" };
            _dispatcher.Start();
        }
    }

    private void StartHost()
    {
        _control.Status = VirtioStatus.None;
        var status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
        _control.Status = status;
        uint offered = _control.DeviceFeatures;
        uint accepted = offered & SupportedFeatures();
        _control.DriverFeatures = accepted;
        status |= VirtioStatus.FeaturesOk;
        _control.Status = status;
        bool eventIndex = (accepted & VirtioFeatures.EventIndex) != 0;
        var transport = new DriverRoleTransport(_layout, eventIndex, Name, _doorbell);
        GoLive(transport, accepted);
        var live = status | VirtioStatus.DriverOk;
        _control.Status = live;
        _writtenStatus = live;
        // The remote may already be waiting: tell it the rx buffers are there.
        _doorbell.Ring();
    }

    private uint SupportedFeatures() =>
        (Options.NameService ? RpmsgFeatures.NameService : 0) | (Options.EventIndex ? VirtioFeatures.EventIndex : 0);

    /// <summary>Remote role: completes the link once the host wrote DRIVER_OK. True when running.</summary>
    private bool TryCompleteRemoteLinkUp()
    {
        var status = _control.Status;
        if ((status & VirtioStatus.DriverOk) == 0)
            return false;
        uint offered = _control.DeviceFeatures;
        uint accepted = _control.DriverFeatures;
        if ((accepted & ~offered) != 0)
        {
            Break(new Fault(FaultLayer.Rpmsg, FaultRule.FeaturesNotOffered, "gfeatures", accepted,
                $"the host accepted features 0x{accepted:X8} that were not offered (0x{offered:X8})"));
            return false;
        }
        bool eventIndex = (accepted & VirtioFeatures.EventIndex) != 0;
        GoLive(new DeviceRoleTransport(_layout, eventIndex, Name, _doorbell), accepted);
        return true;
    }

    private void GoLive(IRpmsgTransport transport, uint features)
    {
        var rx = new RpmsgRxBuffer[Math.Max(_layout.VringNum, _layout.BufferCount)];
        for (int i = 0; i < rx.Length; i++)
            rx[i] = new RpmsgRxBuffer(this, i);
        RpmsgEndpoint[] toAnnounce;
        lock (_sync)
        {
            if (_state != RpmsgDeviceState.Starting)
            {
                transport.Dispose();
                return;
            }
            _rxBuffers = rx;
            _transport = transport;
            _features = features;
            if (NameServiceEnabled)
            {
                var ns = new RpmsgEndpoint(this, RpmsgAddress.NameService, RpmsgAddress.Any, OnNameServiceMessage, null, 1);
                _endpoints[RpmsgAddress.NameService] = ns;
            }
            SetState(RpmsgDeviceState.Running);
            toAnnounce = _endpoints.Values.Where(e => e.Name is not null).ToArray();
        }
        _linkUp.TrySetResult();
        RaiseState(RpmsgDeviceState.Running);
        foreach (var ept in toAnnounce)
            SendNameService(ept.Name!, ept.Address, NameServiceFlags.Create);
    }

    /// <summary>Waits until the link is up; false on timeout. Throws if the device stops or breaks first.</summary>
    public bool WaitForLinkUp(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("RpmsgDevice.WaitForLinkUp");
        if (_state == RpmsgDeviceState.Created)
            throw new InvalidOperationException($"rpmsg device '{Name}' is not started; call Start first");
        try
        {
            _linkUp.Task.Wait(timeout, cancellationToken);
        }
        catch (AggregateException)
        {
            // Faulted by Break/Stop: report the state below.
        }
        if (_state == RpmsgDeviceState.Running)
            return true;
        if (_state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
            throw Unavailable(_state);
        return false;
    }

    /// <summary>Waits asynchronously until the link is up; false on timeout.</summary>
    public async ValueTask<bool> WaitForLinkUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (_state == RpmsgDeviceState.Created)
            throw new InvalidOperationException($"rpmsg device '{Name}' is not started; call Start first");
        try
        {
            await _linkUp.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (RpmsgDeviceUnavailableException)
        {
        }
        if (_state == RpmsgDeviceState.Running)
            return true;
        throw Unavailable(_state);
    }

    // ---- endpoints -------------------------------------------------------------------------------

    /// <summary>Creates an endpoint whose messages go to <paramref name="handler"/>. <paramref name="address"/> may be <see cref="RpmsgAddress.Any"/>.</summary>
    public RpmsgEndpoint CreateEndpoint(uint address, RpmsgReceiveHandler handler, uint remoteAddress = RpmsgAddress.Any)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddEndpoint(address, remoteAddress, handler, null, null);
    }

    /// <summary>Creates a queue-style endpoint, read with <see cref="RpmsgEndpoint.ReceiveAsync"/> or <see cref="RpmsgEndpoint.Receive"/>.</summary>
    public RpmsgEndpoint CreateEndpoint(uint address = RpmsgAddress.Any, uint remoteAddress = RpmsgAddress.Any) =>
        AddEndpoint(address, remoteAddress, null, null, null);

    /// <summary>Creates an endpoint that receives in place (zero-copy).</summary>
    public RpmsgEndpoint CreateZeroCopyEndpoint(uint address, RpmsgZeroCopyReceiveHandler handler, uint remoteAddress = RpmsgAddress.Any)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddEndpoint(address, remoteAddress, null, handler, null);
    }

    /// <summary>
    /// Creates an endpoint and announces it under <paramref name="serviceName"/> through the name service
    /// (now if the link is up, otherwise at link-up). Disposing it announces the destroy.
    /// </summary>
    public RpmsgEndpoint CreateNamedEndpoint(string serviceName, uint address, RpmsgReceiveHandler? handler, uint remoteAddress = RpmsgAddress.Any)
    {
        NameServiceMessage.ValidateName(serviceName);
        var ept = AddEndpoint(address, remoteAddress, handler, null, serviceName);
        if (_state == RpmsgDeviceState.Running)
            SendNameService(serviceName, ept.Address, NameServiceFlags.Create);
        return ept;
    }

    private RpmsgEndpoint AddEndpoint(uint address, uint remoteAddress, RpmsgReceiveHandler? handler, RpmsgZeroCopyReceiveHandler? zeroCopy, string? name)
    {
        lock (_sync)
        {
            ThrowIfEnded();
            if (_endpoints.Count >= Options.MaxEndpoints)
                throw new InvalidOperationException($"rpmsg device '{Name}' already has {_endpoints.Count} endpoints (MaxEndpoints = {Options.MaxEndpoints})");
            if (address == RpmsgAddress.Any)
            {
                address = AllocateAddress();
            }
            else if (address == RpmsgAddress.NameService)
            {
                throw new ArgumentException($"address {RpmsgAddress.NameService} is the name-service endpoint", nameof(address));
            }
            else if (_endpoints.ContainsKey(address))
            {
                throw new ArgumentException($"address 0x{address:X} is already in use on '{Name}'", nameof(address));
            }
            var ept = new RpmsgEndpoint(this, address, remoteAddress, handler, zeroCopy, Options.EndpointQueueCapacity) { Name = name };
            _endpoints[address] = ept;
            return ept;
        }
    }

    private uint AllocateAddress()
    {
        // Lowest free dynamic address, so freed addresses are reused (as Linux's idr does).
        for (uint a = RpmsgAddress.FirstDynamic; a < RpmsgAddress.Any; a++)
        {
            if (!_endpoints.ContainsKey(a))
                return a;
        }
        throw new InvalidOperationException("no free rpmsg address");
    }

    /// <summary>Destroys an endpoint: unpublish, then wait out running callbacks, then announce the destroy if it was named.</summary>
    internal void DestroyEndpoint(RpmsgEndpoint ept)
    {
        RpmsgChannel? channel = null;
        bool removed;
        lock (_sync)
        {
            removed = _endpoints.TryRemove(new KeyValuePair<uint, RpmsgEndpoint>(ept.Address, ept));
            if (removed && ept.Channel is { } ch && _channels.Remove(ch))
                channel = ch;
        }
        // Even when someone else (Stop, a concurrent Dispose) unpublished it, this Dispose must not
        // return while a callback is still running.
        bool first = ept.MarkDestroyed();
        ept.WaitForCallbacks();
        if (!removed || !first)
            return;
        if (channel is not null)
            RunRemove(channel);
        if (ept.Name is not null && _state == RpmsgDeviceState.Running && NameServiceEnabled)
            SendNameService(ept.Name, ept.Address, NameServiceFlags.Destroy);
    }

    // ---- drivers and channels -------------------------------------------------------------------

    /// <summary>Registers a service driver; announcements already seen for its name are bound now.</summary>
    public void RegisterDriver(RpmsgServiceDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        List<(string, uint)> pending;
        lock (_sync)
        {
            if (!_drivers.TryAdd(driver.ServiceName, driver))
                throw new ArgumentException($"a driver for '{driver.ServiceName}' is already registered on '{Name}'", nameof(driver));
            pending = _unbound.Where(u => u.Name == driver.ServiceName).ToList();
            _unbound.RemoveAll(u => u.Name == driver.ServiceName);
        }
        foreach (var (name, address) in pending)
            CreateChannel(name, address);
    }

    private void OnNameServiceMessage(RpmsgEndpoint ns, uint source, ReadOnlySpan<byte> payload)
    {
        if (!NameServiceMessage.TryParse(payload, out var msg, out var error))
        {
            CountError($"name-service message from 0x{source:X} rejected: {error}");
            return;
        }
        if (msg.Address == RpmsgAddress.NameService)
        {
            CountError($"name-service message for '{msg.Name}' names the name-service address {msg.Address}");
            return;
        }
        if (msg.Flags == NameServiceFlags.Create)
        {
            if (Options.AllowedServices is { } allowed && !allowed.Contains(msg.Name))
            {
                CountError($"announcement of '{msg.Name}' at 0x{msg.Address:X} refused: not in AllowedServices");
                return;
            }
            CreateChannel(msg.Name, msg.Address);
        }
        else
            RemoveChannel(msg.Name, msg.Address);
    }

    private void CreateChannel(string name, uint remoteAddress)
    {
        RpmsgChannel channel;
        lock (_sync)
        {
            if (_state != RpmsgDeviceState.Running)
                return;
            if (_channels.Any(c => c.Name == name && c.RemoteAddress == remoteAddress) || _unbound.Contains((name, remoteAddress)))
            {
                // Seed 003: a repeated announcement must never create a second channel.
                Interlocked.Increment(ref _nsDuplicates);
                LogRare(ref _nsDuplicates, "duplicate announcement of '{Name}' at 0x{Address:X} ignored", name, remoteAddress);
                return;
            }
            if (!_drivers.TryGetValue(name, out var driver))
            {
                if (_unbound.Count >= Options.MaxEndpoints)
                {
                    CountError($"announcement of '{name}' dropped: {_unbound.Count} unbound services already");
                    return;
                }
                _unbound.Add((name, remoteAddress));
                driver = null;
            }
            if (driver is null)
            {
                channel = null!;
            }
            else
            {
                if (_endpoints.Count >= Options.MaxEndpoints)
                {
                    CountError($"announcement of '{name}' dropped: MaxEndpoints ({Options.MaxEndpoints}) reached");
                    return;
                }
                uint local = AllocateAddress();
                var ept = new RpmsgEndpoint(this, local, remoteAddress, driver.Receive, null, Options.EndpointQueueCapacity);
                channel = new RpmsgChannel(this, name, remoteAddress, ept, driver);
                ept.Channel = channel;
                _endpoints[local] = ept;
                _channels.Add(channel);
            }
        }
        if (channel is null)
        {
            Raise(() => UnboundService?.Invoke(name, remoteAddress));
            return;
        }
        try
        {
            channel.Driver.Probe?.Invoke(channel);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _callbackErrors);
            _log.LogError(e, "rpmsg {Device}: probe of '{Name}' threw; channel removed", Name, name);
            lock (_sync)
            {
                _channels.Remove(channel);
                _endpoints.TryRemove(new KeyValuePair<uint, RpmsgEndpoint>(channel.LocalAddress, channel.Endpoint));
            }
            channel.Endpoint.MarkDestroyed();
            return;
        }
        Raise(() => ChannelAdded?.Invoke(channel));
    }

    private void RemoveChannel(string name, uint remoteAddress)
    {
        RpmsgChannel? channel;
        lock (_sync)
        {
            channel = _channels.FirstOrDefault(c => c.Name == name && c.RemoteAddress == remoteAddress);
            if (channel is null)
            {
                if (_unbound.Remove((name, remoteAddress)))
                    return;
                CountError($"name-service destroy for unknown channel '{name}' at 0x{remoteAddress:X}");
                return;
            }
            _channels.Remove(channel);
            _endpoints.TryRemove(new KeyValuePair<uint, RpmsgEndpoint>(channel.LocalAddress, channel.Endpoint));
        }
        channel.Endpoint.MarkDestroyed();
        channel.Endpoint.WaitForCallbacks();
        RunRemove(channel);
    }

    private void RunRemove(RpmsgChannel channel)
    {
        try
        {
            channel.Driver.Remove?.Invoke(channel);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _callbackErrors);
            _log.LogError(e, "rpmsg {Device}: remove of '{Name}' threw", Name, channel.Name);
        }
        Raise(() => ChannelRemoved?.Invoke(channel));
    }

    private void SendNameService(string name, uint address, NameServiceFlags flags)
    {
        if (!NameServiceEnabled)
            return;
        Span<byte> message = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(message);
        try
        {
            Send(address, RpmsgAddress.NameService, message, Deadline(Options.SendTimeout), _stop.Token);
        }
        catch (Exception e) when (e is RpmsgDeviceUnavailableException or OperationCanceledException or TimeoutException)
        {
            _log.LogWarning("rpmsg {Device}: name-service {Flags} of '{Name}' not sent: {Reason}", Name, flags, name, e.Message);
        }
    }

    private void Raise(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _callbackErrors);
            _log.LogError(e, "rpmsg {Device}: event handler threw", Name);
        }
    }

    // ---- state -----------------------------------------------------------------------------------

    // Callers hold _sync; the event is raised by RaiseState after they release it, so a handler
    // may call back into the device (even Dispose) without deadlocking.
    private void SetState(RpmsgDeviceState state) => _state = state;

    private void RaiseState(RpmsgDeviceState state) => Raise(() => StateChanged?.Invoke(this, state));

    /// <summary>Throws <see cref="RpmsgDeviceUnavailableException"/> unless running.</summary>
    internal void ThrowIfUnavailable()
    {
        var state = _state;
        if (state != RpmsgDeviceState.Running)
            throw state == RpmsgDeviceState.Starting ? new RpmsgDeviceUnavailableException(Name, state, "link not up yet") : Unavailable(state);
    }

    private void ThrowIfEnded()
    {
        var state = _state;
        if (state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
            throw Unavailable(state);
    }

    /// <summary>The exception for a device that refuses in <paramref name="state"/>: with the fault when broken.</summary>
    private RpmsgDeviceUnavailableException Unavailable(RpmsgDeviceState state) =>
        _fault is { } fault ? new(Name, state, fault) : new(Name, state, _stopReason);

    /// <summary>
    /// Host role: the status byte must still hold what we wrote, except DEVICE_NEEDS_RESET, which the
    /// device may set. Anything else is the remote scribbling over driver-owned bits. True if intact.
    /// </summary>
    private bool CheckStatus()
    {
        if (Role != RpmsgRole.Host || _state != RpmsgDeviceState.Running || _writtenStatus == VirtioStatus.None)
            return true;
        var status = _control.Status; // one read; the copy is what we judge and report
        if (status == _writtenStatus)
            return true;
        if ((status & VirtioStatus.NeedsReset) != 0)
            Break(new Fault(FaultLayer.Rpmsg, FaultRule.DeviceNeedsReset, "status", (byte)status,
                $"status byte is 0x{(byte)status:X2}: the remote set DEVICE_NEEDS_RESET (0x40)"));
        else
            Break(new Fault(FaultLayer.Rpmsg, FaultRule.StatusOverwritten, "status", (byte)status,
                $"status byte is 0x{(byte)status:X2}, but the host wrote 0x{(byte)_writtenStatus:X2}: the remote changed driver-owned bits"));
        return false;
    }

    /// <summary>Marks the device broken (a protocol violation) and wakes everyone waiting. The first fault is kept.</summary>
    private void Break(Fault fault)
    {
        lock (_sync)
        {
            if (_state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
                return;
            _fault = fault;
            SetState(RpmsgDeviceState.Broken);
        }
        RaiseState(RpmsgDeviceState.Broken);
        Interlocked.Increment(ref _errors);
        _log.LogError("rpmsg {Device}: broken ({Layer} {Rule}, {Field} = {Value}): {Reason}", Name, fault.Layer, fault.Rule, fault.Field, fault.Value, fault.Message);
        WakeAll();
    }

    private void WakeAll()
    {
        _linkUp.TrySetException(Unavailable(_state));
        SignalTx();
        foreach (var ept in _endpoints.Values)
            ept.WakeWaiters();
    }

    /// <summary>
    /// Stops the device because the remote is not running (or the application is done): new sends fail
    /// at once, blocked senders wake with <see cref="RpmsgDeviceUnavailableException"/>, channels are
    /// removed (drivers get Remove), endpoints are invalidated, the dispatcher ends. Shared memory is
    /// not touched afterwards; unmapping it is the caller's next step.
    /// </summary>
    public void Stop(string reason = "stopped")
    {
        RpmsgChannel[] channels;
        RpmsgEndpoint[] endpoints;
        lock (_sync)
        {
            if (_state == RpmsgDeviceState.Stopped)
                return;
            _stopReason = reason;
            SetState(RpmsgDeviceState.Stopped);
            channels = _channels.ToArray();
            _channels.Clear();
            _unbound.Clear();
            endpoints = _endpoints.Values.ToArray();
            _endpoints.Clear();
        }
        RaiseState(RpmsgDeviceState.Stopped);
        WakeAll();
        _stop.Cancel();
        // Sends and buffer returns that passed the state check before it changed finish their
        // ring update now; none starts after this, so shared memory is not touched past here.
        WaitForDataOperations();
        var dispatcher = _dispatcher;
        if (dispatcher is not null && dispatcher != Thread.CurrentThread)
            dispatcher.Join();
        foreach (var ept in endpoints)
        {
            ept.MarkDestroyed();
            ept.WaitForCallbacks();
        }
        foreach (var channel in channels)
            RunRemove(channel);
        _transport?.Dispose();
    }

    /// <summary>Announces the destroy of named endpoints (best effort, never blocking), then <see cref="Stop"/>s.</summary>
    public void Dispose()
    {
        if (_state == RpmsgDeviceState.Running && NameServiceEnabled)
        {
            Span<byte> message = stackalloc byte[NameServiceMessage.Size];
            foreach (var ept in _endpoints.Values.Where(e => e.Name is not null))
            {
                new NameServiceMessage(ept.Name!, ept.Address, NameServiceFlags.Destroy).Write(message);
                try
                {
                    TrySend(ept.Address, RpmsgAddress.NameService, message);
                }
                catch (RpmsgDeviceUnavailableException)
                {
                    break;
                }
            }
        }
        Stop("disposed");
        RpmsgMetrics.Unregister(this);
        // _stop is not disposed: senders racing Dispose still read its token (a disposed source
        // throws ObjectDisposedException there), and a source with no timer holds nothing to free.
    }

    // ---- counters and logging ------------------------------------------------------------------

    internal void CountDropped(string why)
    {
        long n = Interlocked.Increment(ref _dropped);
        if (n <= 10 || n % 1000 == 0)
            _log.LogWarning("rpmsg {Device}: message dropped ({Count} so far): {Why}", Name, n, why);
    }

    internal void CountError(string what)
    {
        long n = Interlocked.Increment(ref _errors);
        if (n <= 10 || n % 1000 == 0)
            _log.LogWarning("rpmsg {Device}: {What} ({Count} errors so far)", Name, what, n);
    }

    private void LogRare(ref long counter, string message, string name, uint address)
    {
        long n = Volatile.Read(ref counter);
        if (n <= 10 || n % 1000 == 0)
            _log.LogWarning("rpmsg {Device}: " + message, Name, name, address);
    }

    internal static long Deadline(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)Math.Max(0, timeout.TotalMilliseconds);

    internal static int RemainingMilliseconds(long deadline)
    {
        if (deadline == long.MaxValue)
            return Timeout.Infinite;
        long left = deadline - Environment.TickCount64;
        return left <= 0 ? 0 : (int)Math.Min(left, int.MaxValue);
    }

    /// <summary>A text dump of the device: state, features, rings, buffers, endpoints, channels, counters.</summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"device '{Name}' role={Role} state={_state}{(StateReason is null ? "" : " (" + StateReason + ")")}");
        sb.AppendLine($"  features=0x{_features:X8} ns={NameServiceEnabled} buffer-size={_layout.BufferSize} buffers={_layout.BufferCount} vring-num={_layout.VringNum}");
        if (_transport is { } t)
            sb.AppendLine("  " + t.ToString());
        var c = Counters;
        sb.AppendLine($"  tx={c.TxMessages} rx={c.RxMessages} tx-waits={c.TxBufferWaits} dropped={c.Dropped} errors={c.Errors} callback-errors={c.CallbackErrors} ns-duplicates={c.NameServiceDuplicates}");
        foreach (var e in Endpoints)
            sb.AppendLine("  " + e);
        foreach (var ch in Channels)
            sb.AppendLine("  " + ch);
        return sb.ToString();
    }

    /// <summary>Name, role and state, for logs.</summary>
    public override string ToString() => $"rpmsg device '{Name}' ({Role}, {_state})";
}
