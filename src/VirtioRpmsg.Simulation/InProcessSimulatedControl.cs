using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// A control backend whose remote runs in this process: a remote-role <see cref="RpmsgDevice"/> with
/// echo services, over its OWN mapping of the platform's shared memory (so the host unmapping its
/// mapping never pulls memory from under the remote, as with a real core or a child process), and a
/// loopback doorbell pair made by <see cref="CreateHostDoorbell"/>. Start boots it (maps, writes its
/// resource table, starts its device, which waits for DRIVER_OK); Stop shuts it down gracefully;
/// InjectCrash makes it vanish abruptly: no name-service destroy, optionally NEEDS_RESET scribbled in
/// the status byte, its mapping gone. Its "application state" (the echo count, its endpoint
/// addresses) lives from boot to stop or crash; detach and attach only reset its transport.
/// </summary>
public sealed class InProcessSimulatedControl : IRemoteProcessorControl, IRemoteDoorbellProvider, IDisposable
{
    private readonly object _lock = new();
    private readonly PlatformDescription _description;
    private readonly InProcessSimulatedOptions _options;
    private PlatformResources? _memory;
    private RpmsgDevice? _device;
    private LoopbackDoorbell? _remoteDoorbell;
    private LoopbackDoorbell? _pendingDoorbell;
    private uint[]? _addresses;
    private RemoteControlState _state = RemoteControlState.Offline;
    private long _echoed;
    private int _boots;
    private bool _disposed;

    /// <summary>
    /// <paramref name="description"/> is the platform (either role; the remote side of it is used). Its
    /// regions must be shareable by path (shmFile); the remote maps them itself.
    /// </summary>
    public InProcessSimulatedControl(PlatformDescription description, InProcessSimulatedOptions? options = null, string name = "sim-remote")
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentException.ThrowIfNullOrEmpty(name);
        for (int i = 0; i < description.Regions.Count; i++)
        {
            if (description.Regions[i].Kind is not (PlatformRegionKind.ShmFile or PlatformRegionKind.DevMem or PlatformRegionKind.Uio))
                throw new PlatformDescriptionException($"regions[{i}].kind", description.Regions[i].Kind.ToString(),
                    "the in-process simulated remote maps the memory itself, which needs a region it can open by path");
        }
        if (description.VdevCount > 1)
            throw new PlatformDescriptionException("additionalVdevs", $"[{description.VdevCount - 1} entries]", "the in-process simulated remote serves one vdev");
        // The host created the file; the remote only opens it.
        _description = description with
        {
            Role = PlatformRole.Remote,
            Regions = description.Regions.Select(r => r.Kind == PlatformRegionKind.ShmFile ? r with { Create = false } : r).ToArray(),
        };
        _options = options ?? new InProcessSimulatedOptions();
        Name = name;
    }

    /// <summary>Name used in logs and messages (given to the constructor).</summary>
    public string Name { get; }

    /// <summary>Not meaningful for the simulated remote (there is no image); kept for the interface.</summary>
    public string? FirmwareName { get; set; }

    /// <summary>The simulated power state, as a real remoteproc would report it.</summary>
    public RemoteControlState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    /// <summary>Always true: the simulation can crash on demand.</summary>
    public bool CanInjectCrash => true;

    /// <summary>Boots so far (a crash-reboot counts).</summary>
    public int BootCount => Volatile.Read(ref _boots);

    /// <summary>Messages the echo services received (and answered) since the last boot; survives detach/attach.</summary>
    public long EchoedMessages => Interlocked.Read(ref _echoed);

    /// <summary>The remote's service endpoint addresses (fixed from boot to stop/crash); empty before the first transport start.</summary>
    public IReadOnlyList<uint> ServiceAddresses
    {
        get
        {
            lock (_lock)
                return _addresses?.ToArray() ?? [];
        }
    }

    /// <summary>The remote's current device (diagnostics and tests); null while its transport is down.</summary>
    public RpmsgDevice? RemoteDevice
    {
        get
        {
            lock (_lock)
                return _device;
        }
    }

    /// <summary>Creates a loopback doorbell pair, keeps the remote end for the next start or attach, and returns the host end (the caller owns it).</summary>
    public IDoorbell CreateHostDoorbell()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _pendingDoorbell?.Dispose();
            var (host, remote) = LoopbackDoorbell.CreatePair();
            _pendingDoorbell = remote;
            return host;
        }
    }

    /// <summary>Boots the simulated remote: maps the memory, writes (or loads) the resource table and starts its rpmsg device with the configured services.</summary>
    public void Start()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_memory is not null)
                throw new InvalidOperationException($"simulated remote '{Name}' is already running (state {_state})");
            try
            {
                Boot();
                StartTransport();
            }
            catch
            {
                PowerOff(graceful: false);
                throw;
            }
            _state = RemoteControlState.Running;
        }
    }

    /// <summary>Powers the simulated remote off: stops its rpmsg device and unmaps its memory.</summary>
    public void Stop()
    {
        lock (_lock)
            PowerOff(graceful: true);
    }

    /// <summary>Drops the remote's transport after the host reset the vdev; the remote stays booted.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            RequireBooted("detach from");
            // The host reset the vdev: drop the transport (no destroys: the host is gone), keep running.
            StopTransport(graceful: false);
            _state = RemoteControlState.Detached;
        }
    }

    /// <summary>Restarts the remote's transport for a new host; the services come back at the same addresses.</summary>
    public void Attach()
    {
        lock (_lock)
        {
            RequireBooted("attach to");
            // Whatever transport an earlier host left is reset; the services come back at the same addresses.
            StopTransport(graceful: false);
            StartTransport();
            _state = RemoteControlState.Running;
        }
    }

    /// <summary>Kills the simulated remote abruptly, optionally marks the vdev NEEDS_RESET, and reboots it when <see cref="InProcessSimulatedOptions.RebootAfterCrash"/> is set.</summary>
    public void InjectCrash()
    {
        lock (_lock)
        {
            RequireBooted("crash");
            StopTransport(graceful: false);
            if (_options.ReportNeedsResetOnCrash)
                ScribbleNeedsReset(_memory!);
            PowerOff(graceful: false);
            _state = RemoteControlState.Crashed;
            if (_options.RebootAfterCrash)
            {
                Boot();
                _state = RemoteControlState.Running;
            }
        }
    }

    /// <summary>Stops the remote and releases its doorbells.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            PowerOff(graceful: false);
            _pendingDoorbell?.Dispose();
            _pendingDoorbell = null;
        }
    }

    // ---- the simulated firmware --------------------------------------------------------------

    private void Boot()
    {
        var memory = PlatformResources.Open(_description, new PlatformOpenOptions { ReadResourceTable = false });
        try
        {
            if (_options.UseLoadedResourceTable)
                memory.LoadResourceTable();
            else
                memory.WriteResourceTable();
        }
        catch
        {
            memory.Dispose();
            throw;
        }
        _memory = memory;
        _addresses = null;
        Interlocked.Exchange(ref _echoed, 0);
        Interlocked.Increment(ref _boots);
    }

    private void StartTransport()
    {
        var memory = _memory!;
        var doorbell = _pendingDoorbell
            ?? throw new InvalidOperationException($"simulated remote '{Name}' has no doorbell: call CreateHostDoorbell before start/attach (RemoteProcessor does)");
        _pendingDoorbell = null;
        var control = memory.CreateVdevControl();
        var layout = memory.CreateRpmsgLayout();
        var options = new RpmsgDeviceOptions { Name = Name, WaitStrategy = _options.WaitStrategy, SendTimeout = _options.SendTimeout };
        var device = RpmsgDevice.CreateRemote(layout, control, doorbell, options);
        try
        {
            var addresses = new uint[_options.Services.Count];
            for (int i = 0; i < addresses.Length; i++)
                addresses[i] = device.CreateNamedEndpoint(_options.Services[i], _addresses?[i] ?? RpmsgAddress.Any, Echo).Address;
            device.Start();
            _addresses = addresses;
        }
        catch
        {
            device.Dispose();
            doorbell.Dispose();
            throw;
        }
        _device = device;
        _remoteDoorbell = doorbell;
    }

    private void Echo(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        // Counted before the reply leaves, so whoever has the reply also sees the count.
        Interlocked.Increment(ref _echoed);
        try
        {
            endpoint.SendTo(source, payload);
        }
        catch (Exception e) when (e is RpmsgDeviceUnavailableException or TimeoutException or OperationCanceledException)
        {
            // The host went away mid-echo: nothing to answer to.
        }
    }

    /// <summary>Graceful: the device announces its destroys (best effort) first. Abrupt: it just stops.</summary>
    private void StopTransport(bool graceful)
    {
        var device = _device;
        if (device is not null)
        {
            if (!graceful)
                device.Stop("remote reset");
            device.Dispose();
        }
        _remoteDoorbell?.Dispose();
        _device = null;
        _remoteDoorbell = null;
    }

    private void PowerOff(bool graceful)
    {
        StopTransport(graceful);
        _memory?.Dispose();
        _memory = null;
        _addresses = null;
        _state = RemoteControlState.Offline;
    }

    /// <summary>Sets NEEDS_RESET in the rpmsg vdev's status byte (a remote announcing its own failure).</summary>
    internal static void ScribbleNeedsReset(PlatformResources memory)
    {
        var vdev = memory.RpmsgVdev!;
        using var lease = memory.ResourceTableRegion!.Acquire();
        long offset = memory.ResourceTableOffset + vdev.StatusByteOffset;
        lease.WriteByteRelease(offset, (byte)(lease.ReadByteAcquire(offset) | (byte)VirtioStatus.NeedsReset));
    }

    private void RequireBooted(string verb)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_memory is null)
            throw new InvalidOperationException($"cannot {verb} simulated remote '{Name}': it is not running (state {_state})");
    }

    /// <summary>The remote's name and state, for logs.</summary>
    public override string ToString() => $"in-process simulated remote '{Name}' ({State})";
}
