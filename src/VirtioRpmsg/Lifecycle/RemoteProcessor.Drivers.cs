using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

// Service drivers and waiting for their channels.
public sealed partial class RemoteProcessor
{
    // ---- drivers -------------------------------------------------------------------------------

    /// <summary>
    /// Registers a service driver once for the life of this object: it is registered on the current
    /// devices (if any) and on every device created later, so each boot/recovery probes its channels again.
    /// As with Linux rpmsg drivers, it binds the service on whichever vdev announces it.
    /// </summary>
    /// <remarks>
    /// Services the current devices announced already are probed on this thread before this returns, outside this
    /// object's locks: the Probe may register other drivers, wait for other channels, stop or dispose the processor.
    /// Announcements after the registration are probed on the device's dispatcher.
    /// </remarks>
    /// <exception cref="ArgumentException">A driver for the name is registered already, here or on one of the current devices (then nothing was registered).</exception>
    public void RegisterDriver(RpmsgServiceDriver driver)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var binds = new List<Action>();
        lock (_driversLock)
        {
            if (_drivers.Any(d => d.ServiceName == driver.ServiceName))
                throw new ArgumentException($"a driver for '{driver.ServiceName}' is already registered on remote processor '{Name}'", nameof(driver));
            DriverRegistering?.Invoke();
            // Every device checked and given the driver at once, under all their locks: an application's RegisterDriver
            // of the name on one of them cannot come between the check and the registration, which left the driver bound
            // on the devices before that one and kept for the next session's although this threw. Under _driversLock: a
            // device being set up either gets the driver from the list or here, never both. Pending announcements are
            // probed after the lock (user code): each once, or not at all if a DESTROY or a teardown took it first.
            var vdevs = _session?.Vdevs ?? [];
            int refused = RpmsgDevice.AddDriverToAll([.. vdevs.Select(v => v.Device)], driver, binds);
            if (refused >= 0)
                throw new ArgumentException($"a driver for '{driver.ServiceName}' is already registered on device '{vdevs[refused].Device.Name}' (vdev {vdevs[refused].Index}) of remote processor '{Name}'; nothing was registered", nameof(driver));
            _drivers.Add(driver);
        }
        foreach (var bind in binds)
            bind();
    }

    /// <summary>Test hook: RegisterDriver checked the processor's own drivers and is about to check and register on the devices.</summary>
    internal Action? DriverRegistering { get; set; }

    /// <summary>
    /// Waits until a current device (the lowest vdev first) has a channel named <paramref name="serviceName"/> whose
    /// driver's Probe completed (and ChannelAdded was raised): a channel still being probed is not returned, nor one whose
    /// Probe fails. Throws <see cref="TimeoutException"/> otherwise (so a Probe waiting for its own channel times out:
    /// it has the channel as its argument).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="serviceName"/> is null, empty, over 31 UTF-8 bytes or contains a NUL (refused at once, as no announcement can carry it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor was disposed (also ends a wait in progress).</exception>
    public RpmsgChannel WaitForChannel(string serviceName, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForChannelOn(serviceName, null, timeout, cancellationToken);

    /// <summary>As <see cref="WaitForChannel(string, TimeSpan, CancellationToken)"/>, for a channel on vdev <paramref name="vdev"/>'s device only.</summary>
    public RpmsgChannel WaitForChannel(string serviceName, int vdev, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vdev);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vdev, _platform.Vdevs.Count);
        return WaitForChannelOn(serviceName, vdev, timeout, cancellationToken);
    }

    private RpmsgChannel WaitForChannelOn(string serviceName, int? vdev, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // A name no announcement can carry is refused at once, not waited for until the timeout (as RpmsgLink does).
        NameServiceMessage.ValidateName(serviceName, nameof(serviceName));
        MappingLease.ThrowIfHeld("RemoteProcessor.WaitForChannel");
        var deadline = Deadline.From(timeout, nameof(timeout)); // a negative one (not Infinite) is a caller's bug: refused
        while (true)
        {
            // Disposed (before the call or during the wait; Dispose pulses the waiters): no session can come any more.
            // Without this a wait with Timeout.InfiniteTimeSpan never returned, and a bounded one ran out its timeout.
            ObjectDisposedException.ThrowIf(_disposed, this);
            long epoch = Interlocked.Read(ref _channelEpoch);
            // Ready only: its Probe (and ChannelAdded) completed; one whose Probe still runs, or failed, is not handed out.
            var channel = _session?.Vdevs.Where(v => vdev is null || v.Index == vdev)
                .SelectMany(v => v.Device.Channels).FirstOrDefault(c => c.Name == serviceName && c.Ready);
            if (channel is not null)
                return channel;
            int left = deadline.RemainingMillisecondsCappedAt(100);
            if (left == 0)
                throw new TimeoutException($"remote processor '{Name}' ({_state}): no channel '{serviceName}'{(vdev is null ? "" : $" on vdev {vdev}")} within {timeout.TotalMilliseconds} ms");
            cancellationToken.ThrowIfCancellationRequested();
            lock (_channelGate)
            {
                // Pulsed by every channel and state change; the epoch check closes the check-then-wait race.
                if (Interlocked.Read(ref _channelEpoch) == epoch)
                    Monitor.Wait(_channelGate, left);
            }
        }
    }
}
