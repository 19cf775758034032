namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The "tx buffer returned" signal that senders waiting for a free tx buffer sleep on: a broadcast that wakes
/// every waiter (they re-try, or see the device's state), allocating nothing. A signal is a generation number;
/// a sender reads it, tries, and then waits only while the generation is the one it read, so a signal between
/// its try and its sleep is never lost. Blocking senders sleep on a monitor, async senders park a pooled
/// <see cref="RpmsgTxWaiter"/>. The signalling side (the dispatcher, a cancelled zero-copy buffer, a stop) never
/// waits: with nobody asleep it only bumps the generation; otherwise it takes a lock that guards nothing longer
/// than a list operation and a pulse, and completes the parked waiters after releasing it.
/// </summary>
internal sealed class RpmsgTxSignal
{
    private readonly object _lock = new();
    private long _generation;
    private int _sleepers;            // blocking senders in Wait plus listed async waiters
    private RpmsgTxWaiter? _listed;   // parked async waiters, under _lock
    private RpmsgTxWaiter? _free;     // pooled waiters, under _lock

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
        RpmsgTxWaiter? woken;
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
            woken = _listed;
            _listed = null;
            for (var w = woken; w is not null; w = w.Next)
                Interlocked.Decrement(ref _sleepers);
        }
        // Outside the lock; continuations run on the thread pool, never on the signalling thread.
        while (woken is not null)
        {
            var next = woken.Next;
            woken.Next = null;
            woken.Complete(null);
            woken = next;
        }
    }

    /// <summary>
    /// Blocks until a signal after <paramref name="observed"/>, <paramref name="milliseconds"/> (-1: no limit) or
    /// cancellation (which throws). Returns at once when a signal came since <paramref name="observed"/> was read.
    /// </summary>
    internal void Wait(long observed, int milliseconds, CancellationToken cancellationToken)
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
    }

    private void PulseAll()
    {
        lock (_lock)
            Monitor.PulseAll(_lock);
    }

    /// <summary>
    /// Like <see cref="Wait"/> without blocking a thread: completes at a signal after <paramref name="observed"/>
    /// or after <paramref name="milliseconds"/> (-1: no limit), faults with <see cref="OperationCanceledException"/>
    /// on cancellation. Synchronously complete when a signal came since <paramref name="observed"/> was read.
    /// </summary>
    internal ValueTask WaitAsync(long observed, int milliseconds, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        RpmsgTxWaiter waiter;
        short version;
        lock (_lock)
        {
            Interlocked.Increment(ref _sleepers); // full fence before the re-check below
            if (Volatile.Read(ref _generation) != observed)
            {
                Interlocked.Decrement(ref _sleepers);
                return ValueTask.CompletedTask;
            }
            waiter = _free ?? new RpmsgTxWaiter(this);
            _free = waiter.Next;
            waiter.Next = _listed;
            _listed = waiter;
            version = waiter.Arm(milliseconds, cancellationToken);
        }
        // Outside the lock: a token cancelled meanwhile runs its callback (which takes the lock) right here.
        waiter.Register();
        return new ValueTask(waiter, version);
    }

    /// <summary>Removes a parked waiter (its timeout or cancellation); false when a signal took it first.</summary>
    internal bool TryUnlist(RpmsgTxWaiter waiter)
    {
        lock (_lock)
        {
            ref var link = ref _listed;
            while (link is not null)
            {
                if (ReferenceEquals(link, waiter))
                {
                    link = waiter.Next;
                    waiter.Next = null;
                    Interlocked.Decrement(ref _sleepers);
                    return true;
                }
                link = ref link.Next;
            }
            return false;
        }
    }

    /// <summary>The lock that listing and unlisting take (a waiter's timer checks its due time under it).</summary>
    internal object Lock => _lock;

    /// <summary>Returns a finished waiter to the pool.</summary>
    internal void Recycle(RpmsgTxWaiter waiter)
    {
        lock (_lock)
        {
            waiter.Next = _free;
            _free = waiter;
        }
    }
}
