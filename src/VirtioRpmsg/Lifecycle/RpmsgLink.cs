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
/// It owns what it opens: the mapped memory (<see cref="PlatformResources"/>), the doorbell and the host
/// <see cref="RpmsgDevice"/>; dispose releases them in reverse order. To boot, crash-detect and recover the
/// firmware, use <see cref="RemoteProcessor"/> instead (docs/lifecycle.md).
/// </summary>
public sealed class RpmsgLink : IAsyncDisposable, IDisposable
{
    private readonly IDoorbell _doorbell;
    private readonly RpmsgLinkOptions _options;
    private readonly object _gate = new();
    private readonly Dictionary<string, TaskCompletionSource<RpmsgChannel>> _services = new(StringComparer.Ordinal);
    private int _disposed;

    private RpmsgLink(PlatformResources platform, IDoorbell doorbell, RpmsgDevice device, RpmsgLinkOptions options)
    {
        Platform = platform;
        _doorbell = doorbell;
        Device = device;
        _options = options;
        device.StateChanged += OnStateChanged;
    }

    /// <summary>The mapped memory, the resource table and the layout the link runs over.</summary>
    public PlatformResources Platform { get; }

    /// <summary>The host rpmsg device: endpoints, counters, dump, everything the detailed API offers.</summary>
    public RpmsgDevice Device { get; }

    /// <summary>Opens the host side described by the JSON file <paramref name="platformFile"/> (docs/platform-description.md) with default options.</summary>
    /// <inheritdoc cref="OpenAsync(PlatformDescription, RpmsgLinkOptions?, CancellationToken)"/>
    public static Task<RpmsgLink> OpenAsync(string platformFile, CancellationToken cancellationToken = default) =>
        OpenAsync(platformFile, null, cancellationToken);

    /// <summary>Opens the host side described by the JSON file <paramref name="platformFile"/> (docs/platform-description.md).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names the full path).</exception>
    /// <inheritdoc cref="OpenAsync(PlatformDescription, RpmsgLinkOptions?, CancellationToken)"/>
    public static Task<RpmsgLink> OpenAsync(string platformFile, RpmsgLinkOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(platformFile);
        string full = Path.GetFullPath(platformFile);
        if (!File.Exists(full))
            throw new FileNotFoundException($"RpmsgLink: no platform description at '{full}' (a JSON file as described in docs/platform-description.md)", full);
        return OpenAsync(PlatformDescription.Load(full), options, cancellationToken);
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
    public static Task<RpmsgLink> OpenAsync(PlatformDescription description, RpmsgLinkOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(description);
        options ??= new RpmsgLinkOptions();
        options.Validate();
        if (description.Role != PlatformRole.Host)
            throw new PlatformDescriptionException("role", "\"" + description.Role.ToString().ToLowerInvariant() + "\"", "RpmsgLink opens the host side; the description must say \"role\": \"host\"");
        if (options.Device is null && description.WaitStrategy == PlatformWaitStrategy.CallerPoll)
            throw new PlatformDescriptionException("waitStrategy", "\"callerPoll\"",
                "RpmsgLink runs a dispatcher thread; caller-poll needs the application to call RpmsgDevice.Poll (use RpmsgDevice.CreateHost directly), or choose interrupt, hybrid or busyPoll");
        // Mapping and the doorbell handshake block (they may wait for the peer): off the caller's thread.
        return Task.Run(() => Open(description, options, cancellationToken), cancellationToken);
    }

    private static async Task<RpmsgLink> Open(PlatformDescription description, RpmsgLinkOptions options, CancellationToken ct)
    {
        PlatformResources? platform = null;
        IDoorbell? doorbell = null;
        RpmsgDevice? device = null;
        try
        {
            platform = PlatformResources.Open(description, new PlatformOpenOptions { Timeout = options.Timeout, CancellationToken = ct });
            doorbell = platform.CreateDoorbell(new PlatformDoorbellOptions { Timeout = options.Timeout, CancellationToken = ct });
            var deviceOptions = options.Device ?? new RpmsgDeviceOptions { Name = options.Name, WaitStrategy = (RpmsgWaitStrategy)description.WaitStrategy };
            device = RpmsgDevice.CreateHost(platform.CreateRpmsgLayout(), platform.CreateVdevControl(), doorbell, deviceOptions);
            var link = new RpmsgLink(platform, doorbell, device, options);
            device.Start();
            if (!await device.WaitForLinkUpAsync(options.Timeout, ct).ConfigureAwait(false))
                throw new TimeoutException($"RpmsgLink: the link did not come up within {Describe(options.Timeout)} (device state {device.State}{(device.StateReason is { } r ? ": " + r : "")})");
            return link;
        }
        catch
        {
            device?.Dispose();
            doorbell?.Dispose();
            platform?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits until the remote announces <paramref name="serviceName"/> (or returns the channel it announced
    /// already), bounded by <see cref="RpmsgLinkOptions.Timeout"/>. The channel's endpoint is a receive queue
    /// (<see cref="RpmsgEndpoint.Receive"/>, <see cref="RpmsgEndpoint.ReceiveAsync"/>). After the remote
    /// destroys the channel, the next call waits for the next announcement.
    /// </summary>
    /// <exception cref="TimeoutException">No announcement within the timeout (the message names the service and what was announced).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke (the peer violated the protocol) while waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<RpmsgChannel> WaitForChannelAsync(string serviceName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serviceName);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        MappingLease.ThrowIfHeld("RpmsgLink.WaitForChannelAsync");
        TaskCompletionSource<RpmsgChannel> bound;
        bool register = false;
        lock (_gate)
        {
            if (!_services.TryGetValue(serviceName, out bound!))
            {
                bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
                _services.Add(serviceName, bound);
                register = true;
            }
        }
        if (register)
        {
            // Announcements seen before the driver is registered are bound at registration.
            Device.RegisterDriver(new RpmsgServiceDriver(serviceName) { Probe = ch => Bind(serviceName, ch), Remove = ch => Unbind(serviceName, ch) });
        }
        ThrowIfUnavailable();
        try
        {
            return await Current(serviceName).Task.WaitAsync(_options.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var announced = Device.Channels.Select(c => c.Name).Distinct().ToArray();
            throw new TimeoutException($"RpmsgLink: the remote did not announce '{serviceName}' within {Describe(_options.Timeout)}"
                + (announced.Length == 0 ? " (no service is bound on this link)" : $" (bound: {string.Join(", ", announced)})"));
        }
    }

    private TaskCompletionSource<RpmsgChannel> Current(string serviceName)
    {
        lock (_gate)
            return _services[serviceName];
    }

    private void Bind(string serviceName, RpmsgChannel channel)
    {
        lock (_gate)
        {
            var bound = _services[serviceName];
            // A completed source holds a channel that went away without Remove (cannot happen today): replace it.
            if (!bound.TrySetResult(channel))
            {
                bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
                bound.SetResult(channel);
                _services[serviceName] = bound;
            }
        }
    }

    private void Unbind(string serviceName, RpmsgChannel channel)
    {
        lock (_gate)
        {
            var bound = _services[serviceName];
            // Only the channel it holds: a newer announcement may have replaced it already.
            if (bound.Task.IsCompletedSuccessfully && ReferenceEquals(bound.Task.Result, channel))
                _services[serviceName] = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private void OnStateChanged(RpmsgDevice device, RpmsgDeviceState state)
    {
        if (state is not (RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped))
            return;
        lock (_gate)
        {
            foreach (var bound in _services.Values)
                bound.TrySetException(Unavailable());
        }
    }

    private void ThrowIfUnavailable()
    {
        if (Device.State is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
            throw Unavailable();
    }

    private RpmsgDeviceUnavailableException Unavailable() => Device.Fault is { } fault
        ? new RpmsgDeviceUnavailableException(Device.Name, Device.State, fault)
        : new RpmsgDeviceUnavailableException(Device.Name, Device.State, Device.StateReason);

    private static string Describe(TimeSpan timeout) => timeout == Timeout.InfiniteTimeSpan ? "forever" : $"{timeout.TotalSeconds:0.###} s";

    /// <summary>Stops the device (its endpoints and channels end), then releases the doorbell and unmaps the memory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Device.StateChanged -= OnStateChanged;
        Device.Dispose();
        _doorbell.Dispose();
        Platform.Dispose();
        lock (_gate)
        {
            foreach (var bound in _services.Values)
                bound.TrySetException(new ObjectDisposedException(nameof(RpmsgLink)));
        }
    }

    /// <summary>As <see cref="Dispose"/>, off the caller's thread (stopping joins the dispatcher thread).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        await Task.Run(Dispose).ConfigureAwait(false);
    }
}
