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
/// Only completions made by the holder's own Poll run inline; a cancellation or close completes on the thread pool, as
/// before. The continuations run with no lock held and no ring owned, on a pool thread, as they would after a pool
/// work item: only which pool thread and how soon differ.
/// </para>
/// </summary>
internal sealed class RpmsgDoorbellAsyncHolder : IThreadPoolWorkItem
{
    /// <summary>How long the holder waits on the doorbell with no receive completed before it leaves.</summary>
    internal static readonly TimeSpan DefaultIdleHold = TimeSpan.FromMilliseconds(50);

    // The holder whose Poll runs on this thread: completions go to its list instead of the pool.
    [ThreadStatic] private static RpmsgDoorbellAsyncHolder? t_collecting;

    private readonly RpmsgDoorbellHandOver _handOver;
    private int _scheduled; // queued to the pool or running
    private long _inline;   // continuations run here (diagnostics and tests)
    // Completions the holder's Poll made, run once it gave the doorbell back. Only its own thread touches them.
    private RpmsgQueueWaiter? _head, _tail;

    internal RpmsgDoorbellAsyncHolder(RpmsgDoorbellHandOver handOver) => _handOver = handOver;

    /// <summary>True when the holder's Poll completed receives whose continuations are still to run.</summary>
    internal bool HasCompletions => _head is not null;

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
    /// A parked receive is completed (outside its queue's lock): on the holder's Poll thread it joins the holder's
    /// list (true); anywhere else the caller queues it to the pool.
    /// </summary>
    internal static bool TryDefer(RpmsgQueueWaiter waiter)
    {
        if (t_collecting is not { } holder)
            return false;
        if (holder._tail is { } tail)
            tail.Next = waiter;
        else
            holder._head = waiter;
        holder._tail = waiter;
        return true;
    }

    void IThreadPoolWorkItem.Execute()
    {
        bool missed = false;
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
                RunCompletions(); // also after a stop or break: its closed queues' readers complete here
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

    /// <summary>Runs the collected continuations in order; should one throw, the rest still complete, on the pool.</summary>
    private void RunCompletions()
    {
        var context = ExecutionContext.Capture(); // the pool thread's clean one
        try
        {
            while (_head is { } waiter)
            {
                // Unlinked first: the continuation's GetResult pools the waiter, and its next receive may reuse it.
                _head = waiter.Next;
                if (_head is null)
                    _tail = null;
                waiter.Next = null;
                Interlocked.Increment(ref _inline);
                waiter.CompleteInline();
                // What the pool does between two work items: a continuation that is not an async method's (which
                // restores its own) may leave an AsyncLocal or a SynchronizationContext behind for the next one.
                if (context is not null && !ReferenceEquals(ExecutionContext.Capture(), context))
                    ExecutionContext.Restore(context);
                if (SynchronizationContext.Current is not null)
                    SynchronizationContext.SetSynchronizationContext(null);
            }
        }
        finally
        {
            while (_head is { } rest)
            {
                _head = rest.Next;
                rest.Next = null;
                ThreadPool.UnsafeQueueUserWorkItem(rest, preferLocal: false);
            }
            _tail = null;
        }
    }
}
