using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// A simulated remote processor: the virtio device side of an rpmsg link over opened
/// <see cref="PlatformResources"/> (remote role). It writes the resource table (dfeatures as the description says),
/// creates the remote <see cref="RpmsgDevice"/>, announces its services once the host sets DRIVER_OK,
/// and runs until disposed or until the host goes away (<see cref="SimulatedRemoteOptions.HostConnection"/>).
/// Besides the services it has a command endpoint (unnamed, dynamic address) that sends what
/// <see cref="SendFromCommandEndpoint"/> asks, and echoes what it receives.
/// </summary>
/// <remarks>
/// <see cref="Stall"/> makes every handler block (the dispatcher stops consuming host messages, so the
/// host runs out of tx buffers, as with a slow remote) until <see cref="Resume"/>. While stalled, destroying
/// an endpoint waits for the blocked handler, i.e. until <see cref="Resume"/> or <see cref="Dispose"/>.
/// </remarks>
public sealed class SimulatedRemote : IDisposable
{
    /// <summary>Name of the echo service.</summary>
    public const string EchoServiceName = "rpmsg-echo";

    /// <summary>Name of the counting sink service.</summary>
    public const string SinkServiceName = "rpmsg-sink";

    /// <summary>Features the simulated platform (<see cref="SimulatedPlatform.Description"/>) offers; other descriptions offer their <see cref="VdevLayoutDescription.Features"/>.</summary>
    public const uint DeviceFeatures = RpmsgFeatures.NameService | VirtioFeatures.EventIndex;

    private readonly SimulatedRemoteOptions _options;
    private readonly ManualResetEventSlim _consuming = new(initialState: true);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, RpmsgEndpoint> _named = new(StringComparer.Ordinal);
    private Thread? _hostWatch;
    // Written only from receive callbacks, which run one at a time (whoever owns the rx ring; the hand-over orders
    // them), so a plain increment published with a release store is exact; readers use Interlocked.Read. Two locked
    // instructions per message were a measurable share of the sink's per-message work.
    private long _echoed;
    private long _sinkMessages;
    private long _sinkBytes;
    private int _blocked;
    private int _disposed;
    private readonly HashSet<string>? _undestroyed;

    private SimulatedRemote(RpmsgDevice device, SimulatedRemoteOptions options)
    {
        Device = device;
        _options = options;
        CommandEndpoint = device.CreateEndpoint(options.CommandAddress, Echo);
        if ((options.Services & SimulatedServices.Echo) != 0)
        {
            if (options.EchoNames.Count == 0)
                throw new ArgumentException("the echo service needs at least one name", nameof(options));
            // The first name keeps the fixed address a re-attach asks for; further names take dynamic ones.
            EchoAddress = Announce(options.EchoNames[0], options.EchoAddress).Address;
            foreach (string name in options.EchoNames.Skip(1))
                Announce(name);
            _undestroyed = new HashSet<string>(options.EchoNames, StringComparer.Ordinal);
        }
        // A broken device (the host's doorbell socket closed, or a protocol fault) can never serve again.
        device.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Broken)
                _completion.TrySetResult();
        };
        if (options.ExitWhenServicesDestroyed && _undestroyed is not null)
            device.ServiceDestroyed += OnServiceDestroyed;
        if ((options.Services & SimulatedServices.Sink) != 0)
            SinkAddress = AddNamed(SinkServiceName, options.SinkAddress, Sink).Address;
    }

    /// <summary>The remote rpmsg device.</summary>
    public RpmsgDevice Device { get; }

    /// <summary>Address of the echo service; 0 when not offered.</summary>
    public uint EchoAddress { get; }

    /// <summary>Address of the sink service; 0 when not offered.</summary>
    public uint SinkAddress { get; }

    /// <summary>The unnamed endpoint <see cref="SendFromCommandEndpoint"/> sends from; it echoes what it receives.</summary>
    public RpmsgEndpoint CommandEndpoint { get; }

    /// <summary>The echo endpoints, by name (<see cref="SimulatedRemoteOptions.EchoNames"/>), and the sink.</summary>
    public IReadOnlyDictionary<string, uint> NamedAddresses => _named.ToDictionary(p => p.Key, p => p.Value.Address, StringComparer.Ordinal);

    /// <summary>Messages echoed so far (all echo endpoints).</summary>
    public long Echoed => Interlocked.Read(ref _echoed);

    /// <summary>Messages the sink has counted.</summary>
    public long SinkMessages => Interlocked.Read(ref _sinkMessages);

    /// <summary>Payload bytes the sink has counted.</summary>
    public long SinkBytes => Interlocked.Read(ref _sinkBytes);

    /// <summary>Handlers blocked by <see cref="Stall"/> right now (1 once a message arrived after the stall: the dispatcher waits in it).</summary>
    public int BlockedHandlers => Volatile.Read(ref _blocked);

    /// <summary>True while <see cref="Stall"/> is in force.</summary>
    public bool IsStalled => !_consuming.IsSet;

    /// <summary>Completes when the remote is disposed or the host went away.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Writes the resource table, offering the description's <see cref="VdevLayoutDescription.Features"/> (so an
    /// OpenAMP preset offers NS only), unless it was written already. Call it
    /// before handing the doorbell to the host when the host reads the table as soon as it connects.
    /// </summary>
    public static void WriteResourceTable(PlatformResources resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Role != PlatformRole.Remote)
            throw new ArgumentException($"a simulated remote needs platform resources opened in the remote role, not {resources.Role}", nameof(resources));
        // A table announcing vdevs nobody serves would leave the host waiting on them: refuse up front.
        if (resources.Vdevs.Count > 1)
            throw new PlatformDescriptionException("additionalVdevs", $"[{resources.Vdevs.Count - 1} entries]", "the simulated remote serves one vdev");
        // Without a table in the description (RPMsg-Lite's layout) there is nothing to write.
        if (resources.ResourceTable is null && resources.Description.ResourceTable is not null)
            resources.WriteResourceTable();
    }

    /// <summary>
    /// Writes the resource table if needed, creates and starts the remote device with the services of
    /// <paramref name="options"/> (announced at link-up). <paramref name="resources"/> and
    /// <paramref name="doorbell"/> stay the caller's; the host connection (if any) becomes the remote's.
    /// </summary>
    public static SimulatedRemote Start(PlatformResources resources, IDoorbell doorbell, SimulatedRemoteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(doorbell);
        options ??= new SimulatedRemoteOptions();
        WriteResourceTable(resources);
        var deviceOptions = new RpmsgDeviceOptions
        {
            Name = "simulated-remote",
            WaitStrategy = options.WaitStrategy,
            SendTimeout = options.SendTimeout,
            Logger = options.Logger,
        };
        var device = RpmsgDevice.CreateRemote(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), doorbell, deviceOptions);
        SimulatedRemote? remote = null;
        try
        {
            remote = new SimulatedRemote(device, options);
            device.Start();
            remote.WatchHost();
            return remote;
        }
        catch
        {
            if (remote is not null)
                remote.Dispose();
            else
                device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds the services of <paramref name="options"/> to a remote <paramref name="device"/> that is not started
    /// yet (its owner starts it, and stops it when its host goes away): how a device created by a transport such
    /// as <see cref="VirtioRpmsg.VhostUser.VhostUserRpmsgServer"/> becomes a simulated remote. Disposing the
    /// returned remote disposes the device too.
    /// </summary>
    public static SimulatedRemote Create(RpmsgDevice device, SimulatedRemoteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Role != RpmsgRole.Remote || device.State != RpmsgDeviceState.Created)
            throw new ArgumentException($"a simulated remote needs a remote-role device that is not started yet, not {device}", nameof(device));
        return new SimulatedRemote(device, options ?? new SimulatedRemoteOptions());
    }

    /// <summary>Waits until the host set DRIVER_OK and the services were announced; false on timeout.</summary>
    public bool WaitForLinkUp(TimeSpan timeout, CancellationToken cancellationToken = default) => Device.WaitForLinkUp(timeout, cancellationToken);

    /// <summary>Creates an echo endpoint announced as <paramref name="name"/> (now, or at link-up).</summary>
    public RpmsgEndpoint Announce(string name, uint address = RpmsgAddress.Any) => AddNamed(name, address, Echo);

    /// <summary>Destroys the named endpoint (the host sees a name-service destroy); false if there is none.</summary>
    public bool Destroy(string name)
    {
        if (!_named.TryRemove(name, out var ept))
            return false;
        ept.Dispose();
        return true;
    }

    /// <summary>Sends <paramref name="payload"/> to <paramref name="destination"/> from the command endpoint, or off-channel from <paramref name="source"/>.</summary>
    public void SendFromCommandEndpoint(uint destination, ReadOnlySpan<byte> payload, uint? source = null, TimeSpan? timeout = null)
    {
        var wait = timeout ?? _options.SendTimeout;
        // A command may come as soon as the host is up, before this side has seen the link come up
        // (the host's DRIVER_OK is read by the remote's dispatcher): wait for it within the same bound.
        if (Device.State == RpmsgDeviceState.Starting && !Device.WaitForLinkUp(wait, _stop.Token))
            throw new TimeoutException($"the link did not come up within {wait.TotalSeconds} s (remote state {Device.State})");
        if (source is { } s)
            CommandEndpoint.SendOffChannel(s, destination, payload, wait, _stop.Token);
        else
            CommandEndpoint.SendTo(destination, payload, wait, _stop.Token);
    }

    /// <summary>Stops consuming: the next message any handler gets blocks the dispatcher until <see cref="Resume"/>.</summary>
    public void Stall() => _consuming.Reset();

    /// <summary>Consumes again (the blocked handler continues, then the backlog is drained).</summary>
    public void Resume() => _consuming.Set();

    private RpmsgEndpoint AddNamed(string name, uint address, RpmsgReceiveHandler handler)
    {
        var ept = Device.CreateNamedEndpoint(name, address, handler);
        if (!_named.TryAdd(name, ept))
        {
            ept.Dispose();
            throw new ArgumentException($"the simulated remote already has an endpoint named '{name}'", nameof(name));
        }
        return ept;
    }

    private void OnServiceDestroyed(string name, uint address)
    {
        bool allGone;
        lock (_undestroyed!)
        {
            _undestroyed.Remove(name);
            allGone = _undestroyed.Count == 0;
        }
        if (allGone)
        {
            _options.Logger.LogInformation("simulated remote: the host destroyed every echo service; stopping");
            _completion.TrySetResult();
        }
    }

    private void Echo(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        if (!PassGate())
            return;
        endpoint.SendTo(source, payload, _options.SendTimeout, _stop.Token);
        Volatile.Write(ref _echoed, _echoed + 1);
    }

    private void Sink(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        if (!PassGate())
            return;
        Volatile.Write(ref _sinkBytes, _sinkBytes + payload.Length);
        Volatile.Write(ref _sinkMessages, _sinkMessages + 1);
    }

    /// <summary>Blocks while stalled; false when the remote is shutting down.</summary>
    private bool PassGate()
    {
        if (_consuming.IsSet)
            return true;
        Interlocked.Increment(ref _blocked);
        try
        {
            _consuming.Wait(_stop.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _blocked);
        }
    }

    private void WatchHost()
    {
        if (_options.HostConnection is not { } connection)
            return;
        _hostWatch = new Thread(() => WatchHostMain(connection)) { IsBackground = true, Name = "simulated-remote-host-watch" };
        _hostWatch.Start();
    }

    private void WatchHostMain(DescriptorPassing connection)
    {
        // The host never sends anything more on this socket; a read returns only when it closes.
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                connection.ReceiveMemory(Timeout.InfiniteTimeSpan, _stop.Token).Dispose();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (EndOfStreamException)
            {
                _options.Logger.LogInformation("simulated remote: the host closed its connection; stopping");
                Device.Stop("the host went away");
                _completion.TrySetResult();
                return;
            }
            catch (InvalidDataException)
            {
                // Something unexpected arrived; keep watching for the close.
            }
            catch (Exception e) when (e is ObjectDisposedException or Interop.NativeCallException)
            {
                _completion.TrySetResult();
                return;
            }
        }
    }

    /// <summary>Stops the device (announcing the destroy of the services if the link is up) and ends <see cref="Completion"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stop.Cancel();
        Device.Dispose();
        _hostWatch?.Join(TimeSpan.FromSeconds(5));
        _options.HostConnection?.Dispose();
        _completion.TrySetResult();
        _consuming.Dispose();
        _stop.Dispose();
    }
}
