using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

// Disposal: after a recovery in progress, or, from a receive callback of the device that recovery stops, by it.
public sealed partial class RpmsgLink
{
    /// <summary>Stops every vdev's device (their endpoints and channels end), then releases the doorbells and unmaps the memory.</summary>
    /// <exception cref="Memory.LeaseHeldException">The calling thread holds a mapping lease (an unsent tx buffer, an open rx
    /// view): the memory cannot be unmapped under it. Nothing is changed; dispose again once it ended.</exception>
    /// <exception cref="TimeoutException">Another thread still held a lease when the memory was unmapped: that region
    /// stays closed but mapped (the rest is released); a later Dispose, once the lease ended, finishes the unmap.</exception>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            FinishUnmap();
            return;
        }
        // Before anything changes: past this point the link counts as disposed, and the unmap at its end would refuse.
        Memory.MappingLease.ThrowIfHeld("RpmsgLink.Dispose");
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // A recovery in progress finishes first: it may be swapping a device in. Given back at the end: one queued
        // behind it then finds the link disposed (ObjectDisposedException) instead of waiting forever. On a thread a stop
        // of one of the link's devices waits for (a receive callback, a Probe, a sender's or the stopping thread's
        // StateChanged handler) the recovery may be stopping that device, waiting for this thread: no waiting then;
        // published, then tried once more, so either the recovery sees the request as it ends or this gets the lock.
        if (!_recovering.Wait(0))
        {
            if (!WaitedForByStopOfOwnDevice())
            {
                _recovering.Wait();
            }
            else
            {
                Interlocked.Exchange(ref _disposeDeferred, 1);
                if (!_recovering.Wait(0))
                    return;
            }
        }
        DisposeHoldingRecoveryLock();
    }

    private bool WaitedForByStopOfOwnDevice()
    {
        lock (_gate)
            return _devices.Any(d => d.IsWaitedForByStop);
    }

    private void DisposeHoldingRecoveryLock()
    {
        try
        {
            DisposeCore();
        }
        finally
        {
            _recovering.Release();
        }
    }

    private void DisposeCore()
    {
        if (Interlocked.Exchange(ref _tornDown, 1) != 0)
            return;
        RpmsgDevice[] devices;
        lock (_gate)
            devices = _devices.ToArray();
        for (int i = devices.Length - 1; i >= 0; i--)
        {
            devices[i].StateChanged -= OnStateChanged;
            devices[i].ChannelReady -= OnChannelReady;
            devices[i].Dispose();
        }
        for (int i = _doorbells.Length - 1; i >= 0; i--)
            _doorbells[i].Dispose();
        try
        {
            DisposePlatform(); // a lease another thread still holds: that region stays mapped, the rest go (TimeoutException)
        }
        finally
        {
            lock (_gate)
            {
                foreach (var bound in _services.Values)
                    bound.TrySetException(new ObjectDisposedException(typeof(RpmsgLink).FullName)); // the name ObjectDisposedException.ThrowIf(this) gives
            }
        }
    }

    private int _unmapPending; // the platform's unmap timed out under another thread's lease: a later Dispose finishes it

    private void DisposePlatform()
    {
        try
        {
            Platform.Dispose();
        }
        catch (TimeoutException)
        {
            Volatile.Write(ref _unmapPending, 1);
            throw;
        }
    }

    // A Dispose after the teardown: what the platform's unmap left mapped (a lease outlived its drain) is unmapped now.
    private void FinishUnmap()
    {
        if (Volatile.Read(ref _unmapPending) == 0)
            return;
        Memory.MappingLease.ThrowIfHeld("RpmsgLink.Dispose");
        if (Interlocked.Exchange(ref _unmapPending, 0) != 0)
            DisposePlatform();
    }

    /// <summary>As <see cref="Dispose"/>, off the caller's thread (stopping joins the dispatcher thread).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _disposed) != 0 && Volatile.Read(ref _unmapPending) == 0)
            return;
        await Task.Run(Dispose).ConfigureAwait(false);
    }
}
