namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Under <see cref="RpmsgWaitStrategy.Interrupt"/>, what a blocked reader on the doorbell (<see cref="RpmsgDoorbellHandOver"/>)
/// is for <c>ReceiveAsync</c>: a thread-pool work item that takes the lent doorbell while async readers are parked,
/// polls the ring when it rings, and runs the continuations of the receives its Polls completed itself, on its own pool
/// thread, once it gave the doorbell back. Otherwise each completion is queued to the pool, and waking a pool thread
/// (often on the other core) cost as much as the whole round trip: <c>ReceiveAsync</c> ran at 2x the callback.
/// <para>
/// A continuation typically sends, then awaits the next receive, which parks again and returns here; the holder then
/// takes the doorbell again. A continuation that runs long does not hold the ring or the doorbell: the parked dispatcher
/// takes the doorbell back after its look (as from a blocked reader between two receives), and the holder, unable to
/// take it again, returns its thread to the pool. So does it after <see cref="DefaultIdleHold"/> (50 ms) with nothing completed, so a
/// pool thread is not kept blocked while an application awaits a quiet link. At most one runs per device.
/// </para>
/// <para>
/// Only the first completion a Poll of the holder makes runs inline; the others, a cancellation or close, and whatever
/// completes while an endpoint's callback runs on the holder's thread complete on the thread pool, as before, so no
/// continuation or callback that waits for another receive waits behind it. The continuation runs with no lock held and
/// no ring owned, on a pool thread whose context is restored after it, as after a pool work item: only which pool thread
/// and how soon differ.
/// </para>
/// </summary>
internal sealed class RpmsgDoorbellAsyncHolder : IThreadPoolWorkItem
{
    /// <summary>How long the holder waits on the doorbell with no receive completed before it leaves.</summary>
    internal static readonly TimeSpan DefaultIdleHold = TimeSpan.FromMilliseconds(50);

    // The holder whose Poll runs on this thread (outside endpoints' callbacks): its first completion is deferred to it.
    [ThreadStatic] private static RpmsgDoorbellAsyncHolder? t_collecting;

    private readonly RpmsgDoorbellHandOver _handOver;
    private int _scheduled; // queued to the pool or running
    private long _inline;   // continuations run here (diagnostics and tests)
    // The first completion the holder's Poll made, run once it gave the doorbell back; the others go to the pool as they
    // come, so no continuation waits behind another (one that blocks until a later one ran would wait forever). Only its
    // own thread touches it.
    private RpmsgQueueWaiter? _deferred;

    internal RpmsgDoorbellAsyncHolder(RpmsgDoorbellHandOver handOver) => _handOver = handOver;

    /// <summary>True when the holder's Poll completed a receive whose continuation is still to run.</summary>
    internal bool HasCompletions => _deferred is not null;

    /// <summary>True while the holder is queued to the pool or running.</summary>
    internal bool IsScheduled => Volatile.Read(ref _scheduled) != 0;

    /// <summary>How many receive continuations ran on the holder's thread.</summary>
    internal long InlineCompletions => Interlocked.Read(ref _inline);

    /// <summary>How long the holder waits on the doorbell with no receive completed before it leaves (tests lengthen it).</summary>
    internal TimeSpan IdleHold { get; set; } = DefaultIdleHold;

    /// <summary>Test hook: raised on the holder's thread before each take of the doorbell.</summary>
    internal Action? BeforeTake { get; set; }

    /// <inheritdoc />
    public override string ToString() => $"async holder {(IsScheduled ? "scheduled" : "idle")}, {InlineCompletions} inline";

    /// <summary>Queues the holder to the pool unless it is queued or running already.</summary>
    internal void Schedule()
    {
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>
    /// A parked receive is completed (outside its queue's lock): on the holder's Poll thread the first joins the holder
    /// (true); anywhere else, and after the first, the caller queues it to the pool.
    /// </summary>
    internal static bool TryDefer(RpmsgQueueWaiter waiter)
    {
        if (t_collecting is not { } holder || holder._deferred is not null)
            return false;
        holder._deferred = waiter;
        return true;
    }

    /// <summary>
    /// An endpoint's callback is about to run on this thread: on the holder's Poll thread, its deferred completion goes
    /// to the pool now and none is deferred until <see cref="AfterCallback"/>. The callback may wait for a receive
    /// (one it cancels, say) whose continuation would otherwise only run once it returned.
    /// </summary>
    internal static RpmsgDoorbellAsyncHolder? BeforeCallback()
    {
        if (t_collecting is not { } holder)
            return null;
        t_collecting = null;
        if (holder._deferred is { } waiter)
        {
            holder._deferred = null;
            ThreadPool.UnsafeQueueUserWorkItem(waiter, preferLocal: false);
        }
        return holder;
    }

    /// <summary>The callback returned: the holder's Poll defers again (<paramref name="holder"/> from <see cref="BeforeCallback"/>).</summary>
    internal static void AfterCallback(RpmsgDoorbellAsyncHolder? holder)
    {
        if (holder is not null)
            t_collecting = holder;
    }

    void IThreadPoolWorkItem.Execute()
    {
        bool missed = false;
        // The pool runs each work item on a clean thread (no AsyncLocal values, no synchronization context) and restores it
        // after: so does the holder after each continuation, which may leave either behind (a raw continuation, not an
        // async method's) for its takes, its Polls' callbacks and the next continuation.
        var clean = ExecutionContext.Capture();
        try
        {
            while (true)
            {
                bool? held;
                BeforeTake?.Invoke();
                t_collecting = this;
                try
                {
                    held = _handOver.HoldForAsync();
                }
                finally
                {
                    t_collecting = null;
                }
                RunCompletion(clean); // also after a stop or break: its closed queues' readers complete here
                if (held != true)
                {
                    missed = held is null;
                    break;
                }
                if (!_handOver.HasAsyncParked)
                {
                    _handOver.NeedDispatcher(); // nobody left to hold it for: the dispatcher takes it back now
                    break;
                }
            }
        }
        finally
        {
            Interlocked.Exchange(ref _scheduled, 0);
            if (missed)
                _handOver.OnAsyncHolderMissed();
        }
    }

    /// <summary>Runs the deferred continuation, then restores the thread's clean context.</summary>
    private void RunCompletion(ExecutionContext? clean)
    {
        if (_deferred is not { } waiter)
            return;
        // Taken first: the continuation's GetResult pools the waiter, and its next receive may reuse it.
        _deferred = null;
        Interlocked.Increment(ref _inline);
        try
        {
            waiter.CompleteInline();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(null);
            if (clean is not null)
                ExecutionContext.Restore(clean);
        }
    }
}
