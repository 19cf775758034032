using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A control backend for <see cref="RemoteProcessor"/> whose remote is <see cref="MultiVdevRemote"/>'s
/// two-vdev firmware run in this process: its own mapping of the host's shm file, a loopback doorbell
/// pair per vdev (made by <see cref="CreateHostDoorbell"/>), and per vdev the 128 echo endpoints plus a
/// named echo service <see cref="ServiceName"/>. <see cref="InjectCrash"/> kills every vdev at once and
/// sets NEEDS_RESET in vdev <see cref="CrashVdev"/>'s status byte only, so the host sees one vdev fail.
/// </summary>
internal sealed class MultiVdevRemoteControl : IRemoteProcessorControl, IRemoteVdevDoorbellProvider, IDisposable
{
    internal const string ServiceName = "mv-echo";
    internal const uint ServiceAddress = 0x300;

    private readonly object _lock = new();
    private readonly PlatformDescription _remote;
    private readonly bool _rebootAfterCrash;
    private readonly LoopbackDoorbell?[] _pending = new LoopbackDoorbell?[2];
    private readonly LoopbackDoorbell?[] _doorbells = new LoopbackDoorbell?[2];
    private readonly RpmsgDevice?[] _devices = new RpmsgDevice?[2];
    private readonly List<string> _crossTalk = [];
    private PlatformResources? _memory;
    private RemoteControlState _state = RemoteControlState.Offline;
    private int _boots;

    /// <summary><paramref name="host"/> is the host's description (it creates the file); the remote opens the same file.</summary>
    public MultiVdevRemoteControl(PlatformDescription host, int id = 0, bool rebootAfterCrash = false)
    {
        _remote = host with
        {
            Role = PlatformRole.Remote,
            Regions = host.Regions.Select(r => r with { Create = false }).ToArray(),
        };
        _rebootAfterCrash = rebootAfterCrash;
        Id = id;
        Name = $"mv-remote{id}";
    }

    /// <summary>The host's description of a two-vdev remote over <paramref name="path"/> (doorbells come from this control).</summary>
    public static PlatformDescription HostDescription(string path)
    {
        var polling = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling };
        return MultiVdevRemote.RemoteDescription(path, polling, polling) with { Role = PlatformRole.Host };
    }

    public int Id { get; }
    public string Name { get; }
    public string? FirmwareName { get; set; }
    public bool CanInjectCrash => true;

    /// <summary>The vdev whose status byte says NEEDS_RESET at the next <see cref="InjectCrash"/>.</summary>
    public int CrashVdev { get; set; } = 1;

    public int BootCount => Volatile.Read(ref _boots);

    public RemoteControlState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    public IReadOnlyList<string> CrossTalk
    {
        get
        {
            lock (_crossTalk)
                return _crossTalk.ToArray();
        }
    }

    public IDoorbell CreateHostDoorbell(int vdev)
    {
        lock (_lock)
        {
            _pending[vdev]?.Dispose();
            var (host, remote) = LoopbackDoorbell.CreatePair();
            _pending[vdev] = remote;
            return host;
        }
    }

    /// <summary>The remote's end kept for vdev <paramref name="vdev"/>'s next start or attach (null once taken).</summary>
    public IDoorbell? PendingDoorbell(int vdev)
    {
        lock (_lock)
            return _pending[vdev];
    }

    public void Start()
    {
        lock (_lock)
        {
            if (_memory is not null)
                throw new InvalidOperationException($"{Name} is already running");
            try
            {
                Boot();
                StartTransport();
            }
            catch
            {
                PowerOff();
                throw;
            }
        }
    }

    public void Stop()
    {
        lock (_lock)
            PowerOff();
    }

    public void Detach()
    {
        lock (_lock)
        {
            StopTransport();
            _state = RemoteControlState.Detached;
        }
    }

    public void Attach()
    {
        lock (_lock)
        {
            if (_memory is null)
                throw new InvalidOperationException($"cannot attach to {Name}: it is not running");
            StopTransport();
            StartTransport();
        }
    }

    /// <summary>Every vdev's device vanishes without a word; NEEDS_RESET in <see cref="CrashVdev"/>'s status; then off (or rebooted, for attach-recovery).</summary>
    public void InjectCrash()
    {
        lock (_lock)
        {
            StopTransport();
            var control = _memory!.CreateVdevControl(CrashVdev);
            control.Status |= VirtioStatus.NeedsReset;
            PowerOff();
            _state = RemoteControlState.Crashed;
            if (_rebootAfterCrash)
                Boot();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            PowerOff();
            for (int v = 0; v < _pending.Length; v++)
            {
                _pending[v]?.Dispose();
                _pending[v] = null;
            }
        }
    }

    private void Boot()
    {
        var memory = PlatformResources.Open(_remote, new PlatformOpenOptions { ReadResourceTable = false });
        try
        {
            memory.WriteResourceTable();
        }
        catch
        {
            memory.Dispose();
            throw;
        }
        _memory = memory;
        _state = RemoteControlState.Running;
        Interlocked.Increment(ref _boots);
    }

    private void StartTransport()
    {
        for (int v = 0; v < _devices.Length; v++)
        {
            var doorbell = _pending[v] ?? throw new InvalidOperationException($"{Name}: no doorbell for vdev {v} (RemoteProcessor asks for one per vdev before start/attach)");
            _pending[v] = null;
            _doorbells[v] = doorbell;
            _devices[v] = MultiVdevRemote.StartEchoDevice(_memory!, v, doorbell, Id, _crossTalk,
                d => d.CreateNamedEndpoint(ServiceName, ServiceAddress, (ept, source, payload) => ept.TrySendTo(source, payload)));
        }
        _state = RemoteControlState.Running;
    }

    private void StopTransport()
    {
        for (int v = 0; v < _devices.Length; v++)
        {
            _devices[v]?.Stop("remote reset");
            _devices[v]?.Dispose();
            _devices[v] = null;
            _doorbells[v]?.Dispose();
            _doorbells[v] = null;
        }
    }

    private void PowerOff()
    {
        StopTransport();
        _memory?.Dispose();
        _memory = null;
        _state = RemoteControlState.Offline;
    }
}
