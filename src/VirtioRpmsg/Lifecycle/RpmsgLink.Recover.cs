using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

// Resetting one vdev, and the callbacks that must not wait for a reset.
public sealed partial class RpmsgLink
{
    /// <summary>
    /// Resets vdev <paramref name="vdev"/> alone after its device broke (the remote set DEVICE_NEEDS_RESET or
    /// violated the protocol on it): its device is stopped (its endpoints and channels end), its status
    /// byte is written 0 (a virtio device reset: the remote re-initialises that vdev), and a fresh device
    /// over the same rings and doorbell is started; returns it once its link is up. The other vdevs and
    /// the remote processor are not touched. Registered drivers are not carried over: wait for channels again
    /// (<see cref="WaitForChannelAsync(string, int, CancellationToken)"/>). May be repeated.
    /// For a remote that is still the one this link opened: a remote that was restarted (a standalone remote
    /// process started again, which creates its shared file and doorbell anew) is not reached through this link's
    /// mapping and doorbell any more; dispose the link and open a new one.
    /// </summary>
    /// <remarks>
    /// Not from a receive, probe or remove callback, nor a <see cref="RpmsgDevice.StateChanged"/> handler, of the device
    /// it replaces (also the handler of an application's <see cref="RpmsgDevice.Stop"/> of it, which the recovery's stop
    /// waits for): stopping that device waits for the callback to return, so a caller waiting there for the returned task
    /// would wait forever. That is refused at the call; hand the call to another thread (<c>Task.Run</c>). So is a call, for
    /// any vdev, from a remove callback or StateChanged handler that a recovery's stop of a device runs (that recovery holds
    /// the lock until they returned). From a callback of another vdev's device it works, unless a recovery running meanwhile
    /// stops that device (then it is refused too).
    /// </remarks>
    /// <exception cref="TimeoutException">The remote did not bring the vdev up again within <see cref="RpmsgLinkOptions.Timeout"/>,
    /// or a zero-copy buffer of the stopped device stayed open that long (the fresh device would hand it out again).</exception>
    /// <exception cref="InvalidOperationException">Called in a callback or handler of vdev <paramref name="vdev"/>'s device,
    /// or in one a recovery's stop runs (thrown at the call, before a task is returned), or in one of another vdev's device that a recovery running meanwhile
    /// stops (through the task). Nothing was changed.</exception>
    public Task<RpmsgDevice> RecoverVdevAsync(int vdev, CancellationToken cancellationToken = default)
    {
        // Thrown here, not through the task: a callback that does not wait for the task would never see it.
        if (ReferenceEquals(t_stoppingForRecovery, this))
            throw new InvalidOperationException($"RpmsgLink: cannot recover vdev {vdev} from a remove callback or StateChanged handler "
                + "that a recovery's stop of a device runs: that recovery waits for this callback to return and holds the link's "
                + "recovery lock until it has, so waiting here for another recovery would never end. Call RecoverVdevAsync from "
                + "another thread (Task.Run) or after the callback returned");
        if ((uint)vdev < (uint)_devices.Length && Volatile.Read(ref _devices[vdev]) is { IsWaitedForByStop: true } own)
            throw new InvalidOperationException($"RpmsgLink: cannot recover vdev {vdev} from a receive, probe or remove callback, or a "
                + $"StateChanged handler, of its own device '{own.Name}': the recovery stops that device, and the stop waits for this "
                + "callback to return, so waiting here for the recovery would never end. Call RecoverVdevAsync from another thread "
                + "(Task.Run) or after the callback returned");
        return Recover(vdev, cancellationToken);
    }

    private async Task<RpmsgDevice> Recover(int vdev, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(vdev);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(vdev, _devices.Length);
        MappingLease.ThrowIfHeld("RpmsgLink.RecoverVdevAsync");
        await EnterRecovery(vdev, cancellationToken).ConfigureAwait(false);
        try
        {
            // Disposed while this waited behind another recovery: nothing to reset any more.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var old = Volatile.Read(ref _devices[vdev]);
            // Still subscribed while it stops: its Stopped fails this vdev's channel waits, as a break does.
            await Task.Run(() => StopForRecovery(old), cancellationToken).ConfigureAwait(false);
            // Disposed meanwhile (from a callback of the old device, which could not wait for this recovery): no reset.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            old.StateChanged -= OnStateChanged;
            old.ChannelReady -= OnChannelReady;
            // The fresh device hands the same buffers out: the application's zero-copy buffers of the old one end first.
            var drain = _options.ZeroCopyDrainTimeout ?? _options.Timeout;
            if (!await Task.Run(() => old.ZeroCopy.WaitForNone(drain), cancellationToken).ConfigureAwait(false))
                throw new TimeoutException($"RpmsgLink: vdev {vdev}'s stopped device '{old.Name}' still has {old.ZeroCopy.Open} zero-copy buffer(s) "
                    + $"open after {Describe(drain)} (an RpmsgTxBuffer neither sent nor disposed, or an open RpmsgRxView); "
                    + "end them and recover again");
            // Disposed while this waited for them (a Dispose on another thread waits for this recovery): no reset, no
            // fresh device for the dispose to stop at once.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var control = Platform.CreateVdevControl(vdev);
            control.Status = Virtio.VirtioStatus.None;
            var fresh = RpmsgDevice.CreateHost(Platform.CreateRpmsgLayout(vdev), control, _doorbells[vdev], _deviceOptions[vdev]);
            fresh.StateChanged += OnStateChanged;
            fresh.ChannelReady += OnChannelReady;
            lock (_gate)
            {
                _devices[vdev] = fresh;
                // Waiters of the old device were failed when it broke or stopped; new ones bind on the fresh device.
                foreach (var key in _services.Keys.Where(k => k.Vdev == vdev).ToArray())
                {
                    _services[key].TrySetException(Unavailable(old));
                    _services.Remove(key);
                    _live.Remove(key);
                }
            }
            fresh.Start();
            await WaitForLinkUp(fresh, _options.Timeout, cancellationToken).ConfigureAwait(false);
            return fresh;
        }
        finally
        {
            _recovering.Release();
            // After the release (a full fence): pairs with the callback's publish-then-try in Dispose.
            if (Interlocked.Exchange(ref _disposeDeferred, 0) != 0)
            {
                _recovering.Wait();
                DisposeHoldingRecoveryLock();
            }
        }
    }

    // The thread a recovery's stop of the old device runs on: it raises StateChanged(Stopped) and runs the drivers' Remove
    // there (not on the dispatcher, so IsWaitedForByStop is false), and the recovery holding the lock waits for it.
    [ThreadStatic]
    private static RpmsgLink? t_stoppingForRecovery;

    private void StopForRecovery(RpmsgDevice old)
    {
        t_stoppingForRecovery = this;
        try
        {
            old.Dispose();
        }
        finally
        {
            t_stoppingForRecovery = null;
        }
    }

    /// <summary>
    /// Takes the recovery lock. On a thread in a callback of another of the link's devices, the wait ends with an
    /// <see cref="InvalidOperationException"/> once that device stops: the recovery holding the lock is stopping it
    /// (or a Dispose is), and that stop waits for this callback to return, so the lock would never come.
    /// </summary>
    private async Task EnterRecovery(int vdev, CancellationToken cancellationToken)
    {
        RpmsgDevice? callback;
        lock (_gate)
            callback = _devices.FirstOrDefault(d => d.IsWaitedForByStop);
        if (callback is null)
        {
            await _recovering.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_recovering.Wait(0))
            return;
        using var stopped = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callback.StopToken);
        try
        {
            await _recovering.WaitAsync(stopped.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            throw new InvalidOperationException($"RpmsgLink: cannot recover vdev {vdev} from a callback or handler of device '{callback.Name}' "
                + "while another recovery (or the link's Dispose) stops that device: the stop waits for this callback to return; call RecoverVdevAsync from "
                + "another thread (Task.Run)");
        }
    }
}
