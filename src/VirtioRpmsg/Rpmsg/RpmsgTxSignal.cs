namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The "tx buffer returned" signal that senders waiting for a free tx buffer sleep on: a broadcast that wakes
/// every waiter (they re-try, or see the device's state), allocating nothing. A signal is a generation number;
/// a sender reads it, tries, and then waits only while the generation is the one it read, so a signal between
/// its try and its sleep is never lost. Blocking senders sleep on a monitor, async senders park themselves (a
/// pooled <see cref="RpmsgTxAsyncSend"/>) and re-try on the thread pool. The signalling side (the dispatcher, a cancelled zero-copy buffer, a stop) never
/// waits: with nobody asleep it only bumps the generation; otherwise it takes a lock that guards nothing longer
/// than a list operation and a pulse, and completes the parked waiters after releasing it.
/// </summary>
internal sealed class RpmsgTxSignal
{
    private readonly object _lock = new();
    private long _generation;
    private int _sleepers;            // blocking senders in Wait plus listed async waiters
    private RpmsgTxAsyncSend? _listed;   // parked async sends, under _lock
    private RpmsgTxAsyncSend? _free;     // pooled async sends, under _lock

    /// <summary>Senders asleep on the signal now (tests: a sender that has made its last try and sleeps).</summary>
    internal int Sleepers => Volatile.Read(ref _sleepers);

    /// <summary>The current generation: read it before the try that may fail, then wait on it.</summary>
    internal long Generation => Volatile.Read(ref _generation);

    /// <summary>Wakes every sender waiting on an older generation.</summary>
    internal void Signal()
    {
        // Store (generation) then load (sleepers), against the waiter's store (sleepers) then load (generation):
        // both interlocked, so one of them sees the other.
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) == 0)
            return;
        RpmsgTxAsyncSend? woken;
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
            woken = _listed;
            _listed = null;
            for (var w = woken; w is not null; w = w.Next)
                Interlocked.Decrement(ref _sleepers);
        }
        // Outside the lock; the sends re-try on the thread pool, never on the signalling thread.
        while (woken is not null)
        {
            var next = woken.Next;
            woken.Next = null;
            ThreadPool.UnsafeQueueUserWorkItem(woken, preferLocal: false);
            woken = next;
        }
    }

    /// <summary>
    /// Blocks until a signal after <paramref name="observed"/>, <paramref name="milliseconds"/> (-1: no limit) or
    /// cancellation (which throws). Returns at once when a signal came since <paramref name="observed"/> was read.
    /// True when a signal came (the waiter was woken), false when the time ran out.
    /// </summary>
    internal bool Wait(long observed, int milliseconds, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Disposed after the lock is released: a running wake-up callback needs the lock.
        using (cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static s => ((RpmsgTxSignal)s!).PulseAll(), this) : default)
        {
            lock (_lock)
            {
                Interlocked.Increment(ref _sleepers); // full fence before the re-check below
                try
                {
                    if (Volatile.Read(ref _generation) == observed && !cancellationToken.IsCancellationRequested)
                        Monitor.Wait(_lock, milliseconds);
                }
                finally
                {
                    Interlocked.Decrement(ref _sleepers);
                }
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        return Volatile.Read(ref _generation) != observed;
    }

    private void PulseAll()
    {
        lock (_lock)
            Monitor.PulseAll(_lock);
    }

    /// <summary>
    /// Parks an async send until a signal after <paramref name="observed"/>, its timeout or its cancellation (each
    /// queues it to the thread pool to re-try); false, with nothing parked, when a signal came since
    /// <paramref name="observed"/> was read or the send is cancelled already.
    /// </summary>
    internal bool TryPark(RpmsgTxAsyncSend send, long observed, int milliseconds)
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _sleepers); // full fence before the re-check below
            // Cancelled before this lock: its callback found the send unlisted, so it must not be listed now.
            if (Volatile.Read(ref _generation) != observed || send.IsCancellationRequested)
            {
                Interlocked.Decrement(ref _sleepers);
                return false;
            }
            send.Next = _listed;
            _listed = send;
            send.ArmTimer(milliseconds); // under the lock: its callback checks the due time under it
            return true;
        }
    }

    /// <summary>A pooled async send (or a new one).</summary>
    internal RpmsgTxAsyncSend Rent(RpmsgTxPath tx)
    {
        lock (_lock)
        {
            var send = _free ?? new RpmsgTxAsyncSend(tx, this);
            _free = send.Next;
            send.Next = null;
            return send;
        }
    }

    /// <summary>Removes a parked send (its timeout or cancellation); false when a signal took it first.</summary>
    internal bool TryUnlist(RpmsgTxAsyncSend waiter)
    {
        lock (_lock)
        {
            if (!RpmsgWaiterList.TryRemove(ref _listed, waiter))
                return false;
            Interlocked.Decrement(ref _sleepers);
            return true;
        }
    }

    /// <summary>The lock that listing and unlisting take (a waiter's timer checks its due time under it).</summary>
    internal object Lock => _lock;

    /// <summary>Returns a finished waiter to the pool.</summary>
    internal void Recycle(RpmsgTxAsyncSend waiter)
    {
        lock (_lock)
        {
            waiter.Next = _free;
            _free = waiter;
        }
    }
}
