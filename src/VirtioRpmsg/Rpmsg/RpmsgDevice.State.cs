using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>The device's states after Running: broken by a fault, or stopped (and disposed), and waking everyone waiting.</summary>
public sealed partial class RpmsgDevice
{
    // Transitions under _sync, the event raised after it is released; Stop never waits for the raising thread's own
    // data operation, so a StateChanged handler may call Dispose/Stop.

    private void RaiseState(RpmsgDeviceState state) => CounterSet.Raise(() => StateChanged?.Invoke(this, state));

    /// <summary>Throws <see cref="RpmsgDeviceUnavailableException"/> unless running.</summary>
    internal void ThrowIfUnavailable()
    {
        var state = _state;
        if (state != RpmsgDeviceState.Running)
            throw state == RpmsgDeviceState.Starting ? new RpmsgDeviceUnavailableException(Name, state, "link not up yet") : Unavailable(state);
    }

    /// <summary>The exception for a device that refuses in <paramref name="state"/>: carrying the fault when it broke.</summary>
    internal RpmsgDeviceUnavailableException Unavailable(RpmsgDeviceState state) =>
        Fault is { } fault ? new(Name, state, fault) : new(Name, state, _stopReason);

    /// <summary>
    /// True on a thread that this device's <see cref="Stop"/>, run on another thread, waits for: the dispatcher (a receive
    /// callback, a handler it raised) or a Poll, a thread inside one of its data operations (a StateChanged handler a failing
    /// send raised), one running a Probe of its channels, the reader holding its doorbell (Interrupt hand-over: a Broken
    /// handler its failed wait raised), or the thread running a Stop of it (a StateChanged(Stopped) handler, a Remove: a
    /// second Stop waits for the first). Such a thread must not wait for anything that stops the device.
    /// </summary>
    internal bool IsWaitedForByStop =>
        IsDispatcherContext || Gate.EnteredByCurrentThread > 0 || IsStoppingThread || Rx.HandOver.IsHeldByCurrentThread
        || _nameService.IsProbingOnCurrentThread;

    /// <summary>Host role, after each batch: breaks the device if the remote changed the status byte.</summary>
    internal void CheckStatus()
    {
        if (_state == RpmsgDeviceState.Running && _vdev.CheckStatus() is { } fault)
            Break(fault);
    }

    /// <summary>The fault of a wait that found the peer's end of the doorbell closed (the peer is gone).</summary>
    internal static Fault DoorbellClosedFault(DoorbellClosedException e) =>
        new(FaultLayer.Rpmsg, FaultRule.DoorbellClosed, "doorbell", 0, e.Message);

    /// <summary>Marks the device broken (a protocol violation) and wakes everyone waiting. The first fault is kept.</summary>
    internal void Break(Fault fault)
    {
        lock (_sync)
        {
            if (_state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
                return;
            // Published before the state, so whoever sees Broken also sees the fault.
            Volatile.Write(ref _fault, fault);
            _state = RpmsgDeviceState.Broken;
        }
        RaiseState(RpmsgDeviceState.Broken);
        CounterSet.CountBreak(fault);
        WakeAll(_endpoints.All);
    }

    // The endpoints to wake are passed in: Stop has taken them out of the table before it wakes them.
    private void WakeAll(ICollection<RpmsgEndpoint> endpoints)
    {
        _linkUp.Fail(Unavailable(_state));
        Tx.Signal();
        Rx.HandOver.OnUnavailable();
        foreach (var ept in endpoints)
            ept.WakeWaiters();
    }

    /// <summary>
    /// Stops the device because the remote is not running (or the application is done): new sends fail
    /// at once, blocked senders wake with <see cref="RpmsgDeviceUnavailableException"/>, channels are
    /// removed (drivers get Remove), endpoints are invalidated, the dispatcher ends. Shared memory is
    /// not touched afterwards; unmapping it is the caller's next step. Returns once all that is done, also when
    /// another thread is stopping the device (this one waits for it), except on a thread that stop waits for
    /// itself (a receive callback or the dispatcher, a Probe, a sender's StateChanged handler, the reader holding the
    /// doorbell, the stopping thread's own handlers), or that another device's stop under way waits for (its waiting
    /// could close a cycle through that stop): there it returns at once, and the device is stopped when that callback
    /// or handler has returned.
    /// </summary>
    public void Stop(string reason = "stopped")
    {
        RpmsgChannel[] channels;
        RpmsgEndpoint[] endpoints;
        lock (_sync)
        {
            if (_state == RpmsgDeviceState.Stopped)
            {
                channels = null!;
                endpoints = null!;
            }
            else
            {
                _stopReason = reason;
                _state = RpmsgDeviceState.Stopped;
                BeginStopWait(); // under the lock that a second Stop reads the state under: it finds the stop registered
                RecordAnnounced();
                channels = _nameService.TakeAll();
                endpoints = _endpoints.TakeAll();
            }
        }
        if (channels is null)
        {
            AwaitOtherStop();
            return;
        }
        try
        {
            StopTaken(channels, endpoints);
        }
        finally
        {
            lock (_sync)
                EndStopWait();
        }
    }

    private void StopTaken(RpmsgChannel[] channels, RpmsgEndpoint[] endpoints)
    {
        ZeroCopy.Close(); // the application's zero-copy buffers of this device: none starts now (RpmsgZeroCopyFence)
        RaiseState(RpmsgDeviceState.Stopped);
        // Its readers end now (what is queued, then unavailable), not once the callback running now has returned.
        WakeAll(endpoints);
        _stop.Cancel();
        // Data operations past the state check finish their ring writes (not this thread's own); none starts after.
        Gate.WaitForDrain();
        _thread?.Join();
        Rx.HandOver.AwaitReaderGone(); // its wait ended above: a fresh device over this doorbell (recovery) finds it free
        Rx.HandOver.ReleaseCallerTokens();
        Tx.ReleaseCallerTokens();
        foreach (var ept in endpoints)
        {
            ept.MarkDestroyed();
            ept.WaitForCallbacks(drain: false); // readers get what is queued, then RpmsgDeviceUnavailableException
        }
        foreach (var channel in channels)
            _nameService.RunRemove(channel, waitForProbe: true);
        _transport?.Dispose();
    }

    /// <summary>Announces the destroy of named endpoints (best effort, never blocking), then <see cref="Stop"/>s.</summary>
    public void Dispose()
    {
        if (_state == RpmsgDeviceState.Running && NameServiceEnabled)
            _nameService.AnnounceDestroyAllNonBlocking();
        Stop("disposed");
        RpmsgMetrics.Unregister(this);
        // _stop is not disposed: senders racing Dispose still read its token; without a timer it holds nothing.
    }
}
