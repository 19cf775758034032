using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// The transport of a simulated remote that outlives its host: the current <see cref="SimulatedRemote"/>
/// over opened platform resources (remote role), which a host can detach from and attach to again.
/// Detach drops the transport (no name-service destroys: the host already reset the vdev); attach receives
/// a fresh eventfd doorbell pair over the descriptor-passing connection the host keeps open and starts a
/// new remote device whose endpoints keep the addresses of the previous one. This is what the
/// <c>detach</c>, <c>attach</c> and <c>crash</c> commands of <see cref="SimulatedRemoteCommands"/> drive.
/// Not thread-safe: the command reader is its only caller.
/// </summary>
public sealed class SimulatedRemoteLink : IDisposable
{
    private readonly PlatformResources _resources;
    private readonly DescriptorPassing? _connection;
    private SimulatedRemoteOptions _options;
    private SimulatedRemote? _current;
    private IDoorbell? _doorbell;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// <paramref name="connection"/> (owned; null when the host cannot re-attach) is where attach doorbells
    /// arrive; it must not also be <see cref="SimulatedRemoteOptions.HostConnection"/>, which is watched.
    /// </summary>
    public SimulatedRemoteLink(PlatformResources resources, DescriptorPassing? connection, SimulatedRemoteOptions options)
    {
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentNullException.ThrowIfNull(options);
        if (connection is not null && ReferenceEquals(connection, options.HostConnection))
            throw new ArgumentException("the attach connection cannot also be the watched host connection", nameof(connection));
        _resources = resources;
        _connection = connection;
        _options = options;
    }

    /// <summary>The current remote; throws while detached.</summary>
    public SimulatedRemote Current => _current ?? throw new InvalidOperationException("the simulated remote is detached (no host): attach first");

    /// <summary>True while a transport runs.</summary>
    public bool IsAttached => _current is not null;

    /// <summary>Completes when the current remote's host went away (watched connection) or the link is disposed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Starts the first transport over <paramref name="doorbell"/> (owned from here).</summary>
    public SimulatedRemote Start(IDoorbell doorbell)
    {
        ArgumentNullException.ThrowIfNull(doorbell);
        if (_current is not null)
            throw new InvalidOperationException("the simulated remote is already attached");
        SimulatedRemote remote;
        try
        {
            remote = SimulatedRemote.Start(_resources, doorbell, _options);
        }
        catch
        {
            doorbell.Dispose();
            throw;
        }
        _current = remote;
        _doorbell = doorbell;
        // Re-attaches come back at the same addresses: the remote's "application state".
        _options = _options with
        {
            CommandAddress = remote.CommandEndpoint.Address,
            EchoAddress = remote.EchoAddress == 0 ? RpmsgAddress.Any : remote.EchoAddress,
            SinkAddress = remote.SinkAddress == 0 ? RpmsgAddress.Any : remote.SinkAddress,
            HostConnection = null,
        };
        _ = WatchRemote(remote);
        return remote;
    }

    private async Task WatchRemote(SimulatedRemote remote)
    {
        // The current remote ending by itself (its watched host connection closed) ends the link; a detached one does not.
        await remote.Completion.ConfigureAwait(false);
        if (ReferenceEquals(Volatile.Read(ref _current), remote))
            _completion.TrySetResult();
    }

    /// <summary>The host let go (it reset the vdev): stop the transport without announcing destroys.</summary>
    public void Detach()
    {
        var remote = Current;
        _current = null;
        remote.Device.Stop("the host detached");
        remote.Dispose();
        _doorbell?.Dispose();
        _doorbell = null;
    }

    /// <summary>A host attaches: receive its doorbell pair over the connection, start a fresh transport at the old addresses.</summary>
    public SimulatedRemote Attach(TimeSpan timeout)
    {
        var connection = _connection ?? throw new InvalidOperationException("this simulated remote has no descriptor-passing connection to receive an attach doorbell on");
        if (_current is not null)
            Detach();
        var doorbell = connection.ReceiveDoorbell(timeout);
        return Start(doorbell);
    }

    /// <summary>
    /// Fault injection: sets NEEDS_RESET in the vdev status (the remote announcing its failure), then
    /// kills this process at once (SIGKILL: no cleanup, no name-service destroys).
    /// </summary>
    public void Crash()
    {
        InProcessSimulatedControl.ScribbleNeedsReset(_resources);
        using var self = Process.GetCurrentProcess();
        self.Kill();
    }

    /// <summary>Stops the current remote (if attached) and closes the connection to the host.</summary>
    public void Dispose()
    {
        var remote = _current;
        _current = null;
        remote?.Dispose();
        _doorbell?.Dispose();
        _doorbell = null;
        _connection?.Dispose();
        _completion.TrySetResult();
    }
}
