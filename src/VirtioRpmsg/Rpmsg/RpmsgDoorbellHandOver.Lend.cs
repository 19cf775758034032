namespace VirtioRpmsg.Rpmsg;

/// <summary>The dispatcher thread's side of the hand-over: it lends the doorbell when idle and parks until it has it back.</summary>
internal sealed partial class RpmsgDoorbellHandOver
{
    /// <summary>
    /// The dispatcher thread, idle with rx notifications on, before it waits on the doorbell: lends it when a reader
    /// wanted it (waking that reader's queue) and parks until it has it back. True when it lent it.
    /// </summary>
    internal bool TryLend(CancellationToken stop)
    {
        if (!_enabled || Volatile.Read(ref _wanted) == 0 || _device.Tx.Waiters > 0)
            return false;
        Volatile.Write(ref _wanted, 0);
        var queue = Interlocked.Exchange(ref _wantedBy, null);
        Volatile.Write(ref _holder, Lent);
        // Lent (a full fence), then the look at the senders: against a sender's count, then its look at the holder
        // (RpmsgTxPath.BeginWait). A sender that began waiting meanwhile keeps the doorbell here; the lend waits.
        Interlocked.MemoryBarrier();
        if (_device.Tx.Waiters > 0 && Interlocked.CompareExchange(ref _holder, ByDispatcher, Lent) == Lent)
        {
            Volatile.Write(ref _wantedBy, queue);
            Volatile.Write(ref _wanted, 1);
            return false;
        }
        queue?.WakeForDoorbell();
        if (HasAsyncParked)
            Async.Schedule(); // for the async readers parked now (a holder scheduled for none leaves at once)
        Park(stop);
        return true;
    }

    private void Park(CancellationToken stop)
    {
        var look = RpmsgDispatcherThread.HelperRecheck;
        var recheck = _device.Options.IdleRecheckInterval;
        int seen = Volatile.Read(ref _activity);
        bool first = true;
        lock (_park)
        {
            while (true)
            {
                bool stopping = stop.IsCancellationRequested || _device.State != RpmsgDeviceState.Running;
                int holder = Volatile.Read(ref _holder);
                int activity = Volatile.Read(ref _activity);
                if (holder == Lent && (stopping || _needed || (!first && activity == seen))
                    && Interlocked.CompareExchange(ref _holder, ByDispatcher, Lent) == Lent)
                {
                    _needed = false;
                    return;
                }
                if (stopping)
                    return; // a reader holds it: Break/Stop ended its wait, and the dispatcher loop ends
                // Even when needed (a sender waits, or waited): the holder's Polls wake senders, and its give-back wakes
                // us (needed, or _longPark). Looking every millisecond until then would burn a core's wake-ups while idle.
                bool sleeping = !first && holder == ByReader && activity == seen;
                first = false;
                seen = activity;
                if (!sleeping)
                {
                    Monitor.Wait(_park, look);
                    continue;
                }
                // The reader has waited on the doorbell since the last look: sleep until it gives the doorbell back.
                Volatile.Write(ref _longPark, 1);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _activity) == seen)
                    Monitor.Wait(_park, recheck);
                Volatile.Write(ref _longPark, 0);
            }
        }
    }
}
