using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

// Teardown, the crash monitor and disposal.
public sealed partial class RemoteProcessor
{
    /// <summary>
    /// Releases the current session, every vdev's device, in the documented order: (1) new sends fail at once, (2) blocked
    /// senders wake, (3) channels are removed (drivers get Remove) — the remote's name-service destroys
    /// are never waited for, (4) endpoints are invalidated and the dispatcher is joined (all by
    /// <see cref="Rpmsg.RpmsgDevice.Stop"/>, which touches no memory afterwards); then the remote is
    /// told (stop/detach), the doorbells are closed, and only then (5) every region's mapping generation
    /// is bumped and the memory unmapped. The next session remaps: anything left from this one fails
    /// with <see cref="StaleMappingException"/> instead of touching the new mapping.
    /// </summary>
    private void TearDown(string reason, TeardownKind kind)
    {
        var session = _session;
        var vdevs = session?.Vdevs ?? [];
        // Every device stops before any is disposed: no vdev keeps taking sends while another goes away.
        foreach (var vdev in vdevs)
            vdev.Device.Stop($"remote not running ({reason})");
        foreach (var vdev in vdevs)
            vdev.Device.Dispose();
        try
        {
            switch (kind)
            {
                case TeardownKind.Detach:
                    // The driver lets go: the table goes back to what the remote presented (what the host chose is
                    // taken back, for whoever attaches next), and each device is reset (status 0) so the remote
                    // re-initializes its vrings.
                    if (_presentedTable is { } presented)
                        _platform.RestoreResourceTable(presented);
                    foreach (var vdev in vdevs)
                        vdev.VdevControl.Status = VirtioStatus.None;
                    _control.Detach();
                    break;
                case TeardownKind.Stop:
                    _control.Stop();
                    break;
                case TeardownKind.FailedAttach:
                    // The remote runs on: what the host wrote (vring addresses, notify ids) must not become what the
                    // next attach takes as the table the remote presented.
                    if (_presentedTable is { } written)
                        _platform.RestoreResourceTable(written);
                    break;
            }
        }
        finally
        {
            lock (_driversLock)
                _session = null;
            foreach (var vdev in vdevs)
                vdev.Doorbell.Dispose();
            UnmapAll();
            PulseChannelWaiters();
        }
    }

    /// <summary>A boot/attach/recovery failed: release whatever it had set up (and stop a remote it had started).</summary>
    private void AbortSetUp(string reason, bool stopRemote)
    {
        try
        {
            TearDown(reason, stopRemote ? TeardownKind.Failed : TeardownKind.FailedAttach);
            if (stopRemote)
                _control.Stop();
        }
        catch (Exception e)
        {
            // The original failure is what the caller must see; this one is only logged.
            _log.LogError(e, "remote processor {Name}: cleanup after a failed set-up failed", Name);
        }
    }

    private void UnmapAll()
    {
        foreach (var region in _platform.Regions)
        {
            try
            {
                region.Unmap(_options.UnmapDrainTimeout);
            }
            catch (TimeoutException e)
            {
                // An application holds a lease (a held rx buffer, an unsent tx buffer): the region stays
                // closed to new leases and mapped until it is released; the next set-up finishes the unmap (RemapAll).
                _log.LogError(e, "remote processor {Name}: region '{Region}' not unmapped", Name, region.Name);
            }
        }
    }

    // ---- monitor -------------------------------------------------------------------------------

    /// <summary>
    /// Watches for crashes while running (the peer's status byte, a broken device, the heartbeat, the
    /// watchdog doorbell) and runs automatic recovery, so neither happens on an application thread.
    /// </summary>
    private void MonitorMain()
    {
        while (!_disposed)
        {
            _wake.WaitOne(_options.MonitorInterval);
            if (_disposed)
                break;
            try
            {
                CheckForCrash();
                if (_recoveryRequested || LeasesReleasedForRecovery())
                {
                    _recoveryRequested = false;
                    RecoverAutomatically();
                }
            }
            catch (Exception e)
            {
                // Never let the monitor die: a failed recovery leaves the state crashed and says why.
                _log.LogError(e, "remote processor {Name}: monitor step failed", Name);
            }
        }
    }

    private void WakeMonitor()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: there is nothing left to monitor.
        }
    }

    private void CheckForCrash()
    {
        var session = _session;
        if (_state != RemoteProcessorState.Running || session is null)
            return;
        MonitorSessionRead?.Invoke();
        string? reason = null;
        Fault? fault = null;
        var pending = Interlocked.Exchange(ref _pendingCrash, null);
        if (pending is not null && pending.SessionId > session.Id)
        {
            // A newer session than the one read (a crash and recovery ran since) broke: put it back for the next
            // look, which reads that session; unless an even newer one came meanwhile.
            Interlocked.CompareExchange(ref _pendingCrash, pending, null);
            WakeMonitor();
            return;
        }
        if (pending is not null && pending.SessionId == session.Id)
            (reason, fault) = (pending.Reason, pending.Fault);
        reason ??= StatusCrashReason(session);
        if (reason is null && _options.HeartbeatTimeout is { } timeout)
        {
            long silent = Environment.TickCount64 - Volatile.Read(ref _lastHeartbeat);
            if (silent > (long)timeout.TotalMilliseconds)
                reason = $"no heartbeat for {silent} ms (timeout {timeout.TotalMilliseconds} ms)";
        }
        if (reason is null && _options.WatchdogDoorbell is { } watchdog && watchdog.Drain())
            reason = "the watchdog doorbell rang";
        if (reason is not null)
            ReportCrashFromMonitor(session.Id, reason, fault);
    }

    /// <summary>Test hook: the monitor has read the session it is about to check.</summary>
    internal Action? MonitorSessionRead { get; set; }

    /// <summary>A crash seen on a device thread, reported later from the monitor thread.</summary>
    private sealed record PendingCrash(int SessionId, string Reason, Fault? Fault);

    /// <summary>
    /// Each vdev's status byte is the peer's word: NEEDS_RESET, FAILED, or DRIVER_OK gone (the remote reset
    /// or rebooted). Any one vdev saying so is a crash of the remote (whole-remote recovery, as in Linux).
    /// </summary>
    private static string? StatusCrashReason(RemoteProcessorSession session)
    {
        foreach (var vdev in session.Vdevs)
        {
            VirtioStatus status;
            try
            {
                status = vdev.VdevControl.Status;
            }
            catch (RegionClosedException)
            {
                return null; // torn down meanwhile
            }
            string which = session.Vdevs.Count > 1 ? $"vdev {vdev.Index}'s status" : "the vdev status";
            if ((status & VirtioStatus.NeedsReset) != 0)
                return $"the remote set NEEDS_RESET in {which} (0x{(byte)status:X2})";
            if ((status & VirtioStatus.Failed) != 0)
                return $"{which} says FAILED (0x{(byte)status:X2})";
            if ((status & VirtioStatus.DriverOk) == 0 && vdev.Device.State == Rpmsg.RpmsgDeviceState.Running)
                return $"{which} lost DRIVER_OK (0x{(byte)status:X2}): the remote reset or rebooted";
        }
        return null;
    }

    private void ReportCrashFromMonitor(int sessionId, string reason, Fault? fault) => Locked("report a crash", () =>
    {
        // Only for the session that was checked: a newer one may already be running.
        if (_disposed || _state != RemoteProcessorState.Running || _session?.Id != sessionId)
            return;
        CrashCore(reason, fault);
    });

    private void RecoverAutomatically() => Locked("recover", () =>
    {
        if (_disposed || _state != RemoteProcessorState.Crashed)
        {
            _recoveryAwaitsLeases = false;
            return;
        }
        // A lease the crash's drain outlived would fail the remap after another drain, and no later look would retry:
        // wait for it instead (the monitor looks again each tick), blocking nothing.
        if (LeasedRegion() is { } leased)
        {
            AwaitLeases(leased);
            return;
        }
        RecoverCore();
    });

    // ---- dispose -------------------------------------------------------------------------------

    /// <summary>
    /// Stops a running or crashed remote (teardown as for <see cref="Stop"/>), ends the monitor. A detached remote stays
    /// detached. Called from one of the processor's event handlers (inside a transition), it completes when that
    /// transition ends (a session it set up is torn down then).
    /// </summary>
    /// <exception cref="LeaseHeldException">The calling thread holds a mapping lease (an unsent tx buffer, an open rx view),
    /// as every transition refuses: the teardown's unmap cannot run under it. Nothing is changed; dispose again once it ended.</exception>
    public void Dispose()
    {
        if (!_disposed)
            MappingLease.ThrowIfHeld("RemoteProcessor.Dispose");
        if (Monitor.IsEntered(_transition))
        {
            // This thread is inside a transition (an event handler of ours): tearing down now would pull the session
            // from under it, and returning without would leave what it sets up running. Locked finishes the dispose.
            if (!_disposed)
                _disposed = _disposePending = true;
            PulseChannelWaiters(); // a WaitForChannel in progress ends (ObjectDisposedException)
            return;
        }
        if (!EnterTransition())
        {
            // A receive callback of a device that the transition holding the lock is stopping: that transition waits
            // for this callback to return, and completes the dispose when it ends (Locked). Published, then the lock
            // tried once more: either the holder sees the request after it let go, or this thread gets the lock.
            Interlocked.Exchange(ref _disposeDeferred, 1);
            if (!Monitor.TryEnter(_transition))
                return;
        }
        bool disposeNow;
        try
        {
            disposeNow = !_disposed;
            if (disposeNow)
            {
                _disposed = true;
                StopForDispose();
            }
        }
        finally
        {
            Monitor.Exit(_transition);
        }
        if (disposeNow)
        {
            PulseChannelWaiters(); // a WaitForChannel in progress ends (ObjectDisposedException), whatever the state was
            EndMonitor();
        }
    }

    /// <summary>Dispose's teardown, under the transition lock: a running or crashed remote is stopped.</summary>
    private void StopForDispose()
    {
        try
        {
            var state = _state;
            if (state == RemoteProcessorState.Running)
                TearDownOnRequest("stop", "disposed", TeardownKind.Stop);
            else if (state == RemoteProcessorState.Crashed)
                _control.Stop();
            if (state is RemoteProcessorState.Running or RemoteProcessorState.Crashed)
                SetState(RemoteProcessorState.Stopped);
        }
        catch (Exception e)
        {
            _log.LogError(e, "remote processor {Name}: stop on dispose failed", Name);
        }
    }

    private void EndMonitor()
    {
        _wake.Set();
        if (Thread.CurrentThread != _monitor)
        {
            _monitor.Join();
            _wake.Dispose();
        }
    }
}
