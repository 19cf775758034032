using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The short way in: the host side of one rpmsg link to a remote that is already running (started by a boot
/// loader, by remoteproc or by a simulator), opened from a platform description in one call.
/// <code>
/// await using var link = await RpmsgLink.OpenAsync("board.json");
/// var channel = await link.WaitForChannelAsync("rpmsg-echo");
/// </code>
/// It owns what it opens: the mapped memory (<see cref="PlatformResources"/>), and per vdev its doorbell and
/// host <see cref="RpmsgDevice"/> (<see cref="Devices"/>; a description with <c>additionalVdevs</c> has several);
/// dispose releases them in reverse order. One broken vdev is reset alone with <see cref="RecoverVdevAsync"/>
/// (docs/lifecycle.md, "Several vdevs"). To boot, crash-detect and recover the firmware, use
/// <see cref="RemoteProcessor"/> instead.
/// </summary>
public sealed partial class RpmsgLink : IAsyncDisposable, IDisposable
{
    private readonly IDoorbell[] _doorbells;
    private readonly RpmsgDevice[] _devices;
    private readonly RpmsgDeviceOptions[] _deviceOptions;
    private readonly RpmsgLinkOptions _options;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _recovering = new(1, 1);
    private readonly Dictionary<(int Vdev, string Name), TaskCompletionSource<RpmsgChannel>> _services = [];
    // The live channels of each waited-for name, oldest first: the remote may announce one name at several addresses
    // (a channel each); the waiter holds the oldest, and moves on to the next when that one is destroyed.
    private readonly Dictionary<(int Vdev, string Name), List<RpmsgChannel>> _live = [];
    private int _disposed;
    private int _disposeDeferred; // 1: a Dispose from a receive callback left the teardown to the recovery holding the lock
    private int _tornDown;

    private RpmsgLink(PlatformResources platform, IDoorbell[] doorbells, RpmsgDevice[] devices, RpmsgDeviceOptions[] deviceOptions, RpmsgLinkOptions options)
    {
        Platform = platform;
        _doorbells = doorbells;
        _devices = devices;
        _deviceOptions = deviceOptions;
        _options = options;
        foreach (var device in devices)
        {
            device.StateChanged += OnStateChanged;
            device.ChannelReady += OnChannelReady;
        }
    }

    /// <summary>The mapped memory, the resource table and the layout the link runs over.</summary>
    public PlatformResources Platform { get; }

    /// <summary>Vdev 0's host rpmsg device: endpoints, counters, dump, everything the detailed API offers.</summary>
    public RpmsgDevice Device => Volatile.Read(ref _devices[0]);

    /// <summary>One host device per vdev, in vdev order (a snapshot: <see cref="RecoverVdevAsync"/> replaces a vdev's device).</summary>
    public IReadOnlyList<RpmsgDevice> Devices
    {
        get
        {
            lock (_gate)
                return _devices.ToArray();
        }
    }

    /// <summary>Opens the host side described by the JSON file <paramref name="platformFile"/> (docs/platform-description.md) with default options.</summary>
    /// <inheritdoc cref="OpenAsync(PlatformDescription, RpmsgLinkOptions?, CancellationToken)"/>
    public static Task<RpmsgLink> OpenAsync(string platformFile, CancellationToken cancellationToken = default) =>
        OpenAsync(platformFile, null, cancellationToken);

    /// <summary>Opens the host side described by the JSON file <paramref name="platformFile"/> (docs/platform-description.md).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names the full path).</exception>
    /// <exception cref="PlatformDescriptionException">The description is invalid, is not for the host role, or disagrees with
    /// what opening finds; names the file (<see cref="PlatformDescriptionException.Source"/>, the full path) and the field.</exception>
    /// <inheritdoc cref="OpenAsync(PlatformDescription, RpmsgLinkOptions?, CancellationToken)"/>
    public static Task<RpmsgLink> OpenAsync(string platformFile, RpmsgLinkOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(platformFile);
        string full = Path.GetFullPath(platformFile);
        if (!File.Exists(full))
            throw new FileNotFoundException($"RpmsgLink: no platform description at '{full}' (a JSON file as described in docs/platform-description.md)", full);
        return Start(PlatformDescription.Load(full), options, cancellationToken);
    }

    /// <summary>
    /// Maps the memory, reads the resource table the remote wrote, sets up the doorbell, starts the host
    /// device and waits until the link is up. All or nothing: on failure everything opened is released
    /// before the exception leaves.
    /// </summary>
    /// <exception cref="PlatformDescriptionException">The description is invalid (the JSON path is named), or is not for the host role.</exception>
    /// <exception cref="ResourceTableException">The remote's resource table is missing or malformed (not running yet?).</exception>
    /// <exception cref="TimeoutException">The doorbell handshake or the link did not complete within <see cref="RpmsgLinkOptions.Timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> failed <see cref="RpmsgLinkOptions.Validate"/> (thrown before any work).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device broke while the link came up (the peer violated the protocol).</exception>
    /// <exception cref="IOException">A file or device of the description could not be opened or mapped (a <see cref="Interop.NativeCallException"/> names the call and errno).</exception>
    public static Task<RpmsgLink> OpenAsync(PlatformDescription description, RpmsgLinkOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(description);
        return Start(description, options, cancellationToken);
    }

    private static async Task WaitForLinkUp(RpmsgDevice device, TimeSpan timeout, CancellationToken ct)
    {
        if (!await device.WaitForLinkUpAsync(timeout, ct).ConfigureAwait(false))
            throw new TimeoutException($"RpmsgLink: the link of '{device.Name}' did not come up within {Describe(timeout)} (device state {device.State}{(device.StateReason is { } r ? ": " + r : "")})");
    }

    /// <summary>
    /// Waits until the remote announces <paramref name="serviceName"/> (or returns the channel it announced
    /// already), bounded by <see cref="RpmsgLinkOptions.Timeout"/>. The channel's endpoint is a receive queue
    /// (<see cref="RpmsgEndpoint.Receive"/>, <see cref="RpmsgEndpoint.ReceiveAsync"/>). After the remote
    /// destroys the channel, the next call returns another channel of that name still bound (the remote announced
    /// it at another address too; the oldest such), or else waits for the next announcement. A channel is returned once
    /// it is probed (the device's <see cref="RpmsgDevice.ChannelAdded"/> handlers have returned), never while it is.
    /// </summary>
    /// <exception cref="TimeoutException">No announcement within the timeout (the message names the service and what was announced).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke (the peer violated the protocol) while waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException"><paramref name="serviceName"/> is empty, over 31 UTF-8 bytes or contains a NUL.</exception>
    /// <exception cref="ObjectDisposedException">The link was disposed (also ends a wait in progress).</exception>
    public Task<RpmsgChannel> WaitForChannelAsync(string serviceName, CancellationToken cancellationToken = default) =>
        WaitForChannelAsync(serviceName, 0, cancellationToken);

    /// <summary>As <see cref="WaitForChannelAsync(string, CancellationToken)"/>, for a service announced on vdev <paramref name="vdev"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vdev"/> is not one of the link's vdevs.</exception>
    public async Task<RpmsgChannel> WaitForChannelAsync(string serviceName, int vdev, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serviceName);
        // Before the key goes into _services: a name the driver then refused stayed there as a wait with no driver, and
        // the next call with it timed out instead of throwing.
        NameServiceMessage.ValidateName(serviceName, nameof(serviceName));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(vdev);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vdev, _devices.Length);
        MappingLease.ThrowIfHeld("RpmsgLink.WaitForChannelAsync");
        var key = (vdev, serviceName);
        TaskCompletionSource<RpmsgChannel> bound;
        RpmsgDevice device;
        bool register = false;
        lock (_gate)
        {
            device = _devices[vdev];
            if (!_services.TryGetValue(key, out bound!))
            {
                bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
                _services.Add(key, bound);
                register = true;
            }
        }
        if (register)
        {
            try
            {
                // Announcements seen before the driver is registered are bound at registration.
                device.RegisterDriver(new RpmsgServiceDriver(serviceName) { Probe = ch => Bind(key, ch), Remove = ch => Unbind(key, ch) });
            }
            catch (Exception e) when (e is ArgumentException or RpmsgDeviceUnavailableException)
            {
                // The application registered a driver of this name on the device itself (or the device stopped or broke,
                // and refuses drivers): no wait of the link's may stay (the next call would wait out the Timeout for an
                // announcement no driver of ours binds, not throw), and a call already waiting on it gets the same refusal.
                lock (_gate)
                {
                    if (_services.TryGetValue(key, out var recorded) && ReferenceEquals(recorded, bound))
                        _services.Remove(key);
                }
                bound.TrySetException(e);
                throw;
            }
        }
        ThrowIfUnavailable(device);
        try
        {
            return await Current(key, bound).Task.WaitAsync(_options.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // What the remote did announce (bound by a driver or not): a misspelt name shows next to the right one. The
            // names are the peer's text: a control character in one is printed escaped, not raw into the message.
            var announced = device.AnnouncedServiceNames;
            throw new TimeoutException($"RpmsgLink: the remote did not announce '{serviceName}'{(_devices.Length > 1 ? $" on vdev {vdev}" : "")} within {Describe(_options.Timeout)}"
                + (announced.Length == 0 ? " (it announced no service on this link)" : $" (it announced: {string.Join(", ", announced.Select(PrintableText.Of))})"));
        }
    }

    /// <summary>The source now waited on for <paramref name="key"/> (a channel that went away was replaced); <paramref name="fallback"/> after a recovery dropped it.</summary>
    private TaskCompletionSource<RpmsgChannel> Current((int, string) key, TaskCompletionSource<RpmsgChannel> fallback)
    {
        lock (_gate)
            return _services.TryGetValue(key, out var bound) ? bound : fallback;
    }

    // The driver's Probe: the channel is the waiter's once it is ready (OnChannelReady), after the probe is done. Completed
    // here, the waiter went on while the probe still ran: an endpoint it disposed meanwhile left its removal to the probing
    // thread, and the next wait returned the same, destroyed channel.
    private void Bind((int, string) key, RpmsgChannel channel)
    {
        lock (_gate)
        {
            // Gone when the vdev was recovered: that device's channels belong to no waiter any more.
            if (!_services.ContainsKey(key))
                return;
            if (!_live.TryGetValue(key, out var live))
                _live[key] = live = [];
            live.Add(channel);
        }
    }

    private void OnChannelReady(RpmsgChannel channel)
    {
        lock (_gate)
        {
            int vdev = Array.IndexOf(_devices, channel.Device);
            var key = (vdev, channel.Name);
            // Only a channel of the link's own driver (bound above), not removed since.
            if (vdev < 0 || !_live.TryGetValue(key, out var live) || !live.Contains(channel) || !_services.TryGetValue(key, out var bound))
                return;
            // A second announcement of the name (another address) leaves the waiter the channel it has: it is kept
            // to replace that one when it goes.
            bound.TrySetResult(channel);
        }
    }

    private void Unbind((int, string) key, RpmsgChannel channel)
    {
        lock (_gate)
        {
            if (_live.TryGetValue(key, out var live))
            {
                live.Remove(channel);
                if (live.Count == 0)
                    _live.Remove(key);
            }
            // Only the channel it holds: another channel of the name may be the one held (it stays).
            if (_services.TryGetValue(key, out var bound) && bound.Task.IsCompletedSuccessfully && ReferenceEquals(bound.Task.Result, channel))
            {
                // The oldest ready channel of the name still bound, if any; else the next call waits for the next one
                // ready (one still being probed completes it then).
                var next = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (live?.FirstOrDefault(c => c.Ready) is { } oldest)
                    next.SetResult(oldest);
                _services[key] = next;
            }
        }
    }

    private void OnStateChanged(RpmsgDevice device, RpmsgDeviceState state)
    {
        if (state is not (RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped))
            return;
        lock (_gate)
        {
            int vdev = Array.IndexOf(_devices, device);
            if (vdev < 0)
                return;
            // Only this vdev's waiters: the other vdevs run on.
            foreach (var (key, bound) in _services)
            {
                if (key.Vdev == vdev)
                    bound.TrySetException(Unavailable(device));
            }
        }
    }

    private static void ThrowIfUnavailable(RpmsgDevice device)
    {
        if (device.State is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
            throw Unavailable(device);
    }

    private static RpmsgDeviceUnavailableException Unavailable(RpmsgDevice device) => device.Fault is { } fault
        ? new RpmsgDeviceUnavailableException(device.Name, device.State, fault)
        : new RpmsgDeviceUnavailableException(device.Name, device.State, device.StateReason);

    private static string Describe(TimeSpan timeout) => timeout == Timeout.InfiniteTimeSpan ? "forever" : $"{timeout.TotalSeconds:0.###} s";
}
