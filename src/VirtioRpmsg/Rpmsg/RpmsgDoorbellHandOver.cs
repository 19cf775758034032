using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Under <see cref="RpmsgWaitStrategy.Interrupt"/>, a thread blocked in a queue endpoint's blocking receive waits on
/// the doorbell itself and consumes the rx ring (a <see cref="RpmsgDevice.Poll"/>) when it rings, instead of sleeping
/// until the dispatcher thread hands it the message. That hand-off (a wake-up and a switch, about 8 us on a 2-vCPU
/// VM) was the whole difference between a reader and a callback. Off with <see cref="RpmsgDeviceOptions.ReaderWaitsOnDoorbell"/>.
/// <para>
/// One thread waits on the doorbell at a time. The dispatcher thread holds it, and lends it only when idle (rx
/// notifications on, no sender waiting for a buffer) after a reader went to sleep on its queue wanting it; it wakes
/// that reader's queue and parks. A reader that finds the doorbell lent takes it for one wait and gives it back when
/// its message came, usually to take it again within microseconds. The parked dispatcher looks every
/// <see cref="RpmsgDispatcherThread.HelperRecheck"/>, and takes the doorbell back when a whole look passed with
/// nobody taking or giving it back (nobody waits on the ring: a message for another endpoint that arrives then waits
/// at most two looks), at once when a reader gave it back without its message (timeout, cancellation, stop) or a
/// sender waits for a buffer. While a reader sleeps on the doorbell for long, so does the dispatcher, and the reader
/// wakes it when it gives the doorbell back (a Dekker pair on <c>_longPark</c> and <c>_activity</c>).
/// </para>
/// <para>
/// The reader's Poll runs other endpoints' callbacks on its thread, as a <see cref="RpmsgDevice.Poll"/> does; a
/// callback that waits there for a tx buffer waits on the doorbell, which its thread holds (<see cref="RpmsgTxPath"/>).
/// Break and Stop end a reader's doorbell wait (<see cref="OnUnavailable"/>); it then sleeps on its queue, which they close.
/// So does its queue closing (<see cref="OnQueueClosed"/>: its endpoint destroyed).
/// </para>
/// <para>
/// Async readers have no thread to block: a parked <c>ReceiveAsync</c> wants the doorbell for the
/// <see cref="RpmsgDoorbellAsyncHolder"/>, a pool work item that takes it as a reader does and runs the continuations
/// of the receives it completed (<see cref="HoldForAsync"/>). The dispatcher's side is in RpmsgDoorbellHandOver.Lend.cs.
/// </para>
/// </summary>
internal sealed partial class RpmsgDoorbellHandOver
{
    private const int ByDispatcher = 0, Lent = 1, ByReader = 2;

    private readonly RpmsgDevice _device;
    private readonly bool _enabled;
    private readonly object _park = new();
    // Cancelled to end the holder's doorbell wait: for good when the device breaks or stops, and when the queue the holder
    // reads closes (then replaced by the next holder). Never disposed: a holder may still read its token.
    private CancellationTokenSource _interrupt = new();
    private RpmsgEndpointQueue? _holderQueue;
    private readonly RpmsgLinkedStop _linked = new();
    private int _holder;           // ByDispatcher, Lent or ByReader
    private int _holderThread;     // the managed thread id of the reader holding it (0: none)
    private int _activity;         // readers' takes and returns, compared by the parked dispatcher between looks
    private int _wanted;           // a reader went to sleep on its queue while the dispatcher held the doorbell
    private RpmsgEndpointQueue? _wantedBy;
    private int _asyncParked;      // async readers parked on the device's queues: a lend schedules the async holder
    private int _asyncHolding;     // the holder is the async holder
    private int _longPark;         // the dispatcher sleeps past its look: a returning reader wakes it
    private bool _needed;          // under _park: take the doorbell back as soon as it is free

    internal RpmsgDoorbellHandOver(RpmsgDevice device)
    {
        _device = device;
        _enabled = device.Options.WaitStrategy == RpmsgWaitStrategy.Interrupt && device.Options.ReaderWaitsOnDoorbell;
        Async = new RpmsgDoorbellAsyncHolder(this);
    }

    /// <summary>The thread-pool work item that holds the doorbell for parked async readers.</summary>
    internal RpmsgDoorbellAsyncHolder Async { get; }

    /// <summary>True on the reader thread that holds the doorbell now.</summary>
    internal bool IsHeldByCurrentThread => Volatile.Read(ref _holderThread) == Environment.CurrentManagedThreadId;

    /// <summary>True while a reader (not the dispatcher thread) holds the doorbell.</summary>
    internal bool IsHeldByReader => Volatile.Read(ref _holder) == ByReader;

    /// <summary>True while the doorbell is lent and nobody took it.</summary>
    internal bool IsLent => Volatile.Read(ref _holder) == Lent;

    /// <summary>True while the dispatcher thread holds the doorbell (neither lent nor taken).</summary>
    internal bool IsHeldByDispatcher => Volatile.Read(ref _holder) == ByDispatcher;

    /// <summary>Who holds the doorbell, for dumps and test failures.</summary>
    public override string ToString() =>
        $"doorbell {(Volatile.Read(ref _holder) switch { ByDispatcher => "held by the dispatcher", Lent => "lent", _ => "held by a reader" })}, " +
        $"wanted {Volatile.Read(ref _wanted)} (async parked {Volatile.Read(ref _asyncParked)}), taken {Takes} times, {Async}, enabled {_enabled}";

    /// <summary>Test hook: raised on a holder's thread after its look at its queue, before it turns rx notifications on.</summary>
    internal Action? BeforeRearm { get; set; }

    /// <summary>How many times a reader took the doorbell (diagnostics and tests).</summary>
    internal int Takes => (Volatile.Read(ref _activity) + 1) / 2; // a take and a give-back each step the activity

    /// <summary>True while the parked dispatcher sleeps until a holder gives the doorbell back (tests).</summary>
    internal bool IsLongParked => Volatile.Read(ref _longPark) != 0;

    /// <summary>
    /// A queue reader's blocking wait, after its spin found nothing: with the doorbell lent, takes it and waits on it;
    /// true when a message may be readable (or the queue closed), false on timeout. Null when this reader does not hold
    /// the doorbell (or a stop or break ended its wait): the caller sleeps on its queue as before. The holder's own
    /// message may land in <paramref name="direct"/> (<see cref="RpmsgDirectReceive"/>), as a spinning reader's does.
    /// </summary>
    internal bool? TryWait(RpmsgEndpointQueue queue, int milliseconds, CancellationToken cancellationToken, ref RpmsgDirectReceive direct)
    {
        if (!_enabled || !_device.HasDispatcherThread || _device.IsDispatcherContext)
            return null;
        if (!TryTake(queue))
        {
            if (Volatile.Read(ref _holder) == ByDispatcher)
            {
                Volatile.Write(ref _wantedBy, queue);
                Volatile.Write(ref _wanted, 1);
            }
            return null;
        }
        bool? result = null;
        try
        {
            result = WaitHolding(queue, milliseconds, cancellationToken, ref direct);
            return result;
        }
        finally
        {
            GiveBack(needed: result != true || _device.Tx.Waiters > 0);
        }
    }

    /// <summary>
    /// The async holder's turn (<see cref="RpmsgDoorbellAsyncHolder"/>), on its pool thread: with the doorbell lent,
    /// takes it and waits on it until its Poll completed an async reader (true: it gave the doorbell back, and runs
    /// its continuation next), no async reader is left parked (true), or <see cref="RpmsgDoorbellAsyncHolder.IdleHold"/>
    /// passed (false); null when the doorbell was not lent (or a stop or break ended the wait).
    /// </summary>
    internal bool? HoldForAsync()
    {
        if (!_enabled || !_device.HasDispatcherThread || !TryTake(null))
            return null;
        // Holding (a full fence), then the wait's looks at the parked count (Ready): against an unparking reader's
        // decrement, then its look at _asyncHolding. Either the holder sees nobody parked, or that reader ends its wait.
        Interlocked.Exchange(ref _asyncHolding, 1);
        bool? result = null;
        var none = default(RpmsgDirectReceive);
        try
        {
            result = WaitHolding(null, (int)Async.IdleHold.TotalMilliseconds, CancellationToken.None, ref none);
            return result;
        }
        finally
        {
            Volatile.Write(ref _asyncHolding, 0);
            GiveBack(needed: result != true || _device.Tx.Waiters > 0);
        }
    }

    /// <summary>True while async readers are parked on the device's queues.</summary>
    internal bool HasAsyncParked => Volatile.Read(ref _asyncParked) > 0;

    /// <summary>
    /// An async reader parks on its queue (under its lock): it wants the doorbell waited on by the async holder. The
    /// want stays for the dispatcher's next lend; with the doorbell lent now, the holder is scheduled (it runs at
    /// most once at a time, and a running one takes the doorbell again after the continuations it runs).
    /// </summary>
    internal void OnAsyncParked()
    {
        if (!_enabled)
            return;
        Interlocked.Increment(ref _asyncParked);
        if (_device.HasDispatcherThread)
            WantAsync();
    }

    /// <summary>
    /// An async reader left its queue's waiter list (served, cancelled or closed), under the queue's lock. The last one
    /// leaving other than through the holder's own Poll (a cancellation, say) ends the holder's wait: nobody is left to
    /// hold the doorbell for.
    /// </summary>
    internal void OnAsyncUnparked()
    {
        if (_enabled && Interlocked.Decrement(ref _asyncParked) == 0 && Volatile.Read(ref _asyncHolding) != 0 && !IsHeldByCurrentThread)
            Volatile.Read(ref _interrupt).Cancel();
    }

    /// <summary>
    /// The async holder could not take the doorbell it was scheduled for (the dispatcher took it back first, the pool
    /// being slow to run it): the readers still parked ask again, or no lend would come for them before their next park.
    /// </summary>
    internal void OnAsyncHolderMissed()
    {
        if (Volatile.Read(ref _asyncParked) > 0 && _device.State == RpmsgDeviceState.Running)
            WantAsync();
    }

    private void WantAsync()
    {
        Volatile.Write(ref _wanted, 1);
        if (Volatile.Read(ref _holder) == Lent)
            Async.Schedule();
    }

    /// <summary>Lent to taken by the calling thread, reading <paramref name="queue"/> (null: the async holder).</summary>
    private bool TryTake(RpmsgEndpointQueue? queue)
    {
        if (Interlocked.CompareExchange(ref _holder, ByReader, Lent) != Lent)
            return false;
        Volatile.Write(ref _holderThread, Environment.CurrentManagedThreadId);
        // Full fence before the wait's look at the queue: against a closer's close, then its look at _holderQueue.
        Interlocked.Exchange(ref _holderQueue, queue);
        Interlocked.Increment(ref _activity);
        return true;
    }

    /// <summary>
    /// What a holder waits for: a message in its queue (or the queue closed); for the async holder, a completion to run,
    /// or nobody left to hold the doorbell for (the last reader may have left before the holder counted as holding).
    /// </summary>
    private bool Ready(RpmsgEndpointQueue? queue) => queue?.Ready() ?? (Async.HasCompletions || !HasAsyncParked);

    private bool? WaitHolding(RpmsgEndpointQueue? queue, int milliseconds, CancellationToken cancellationToken, ref RpmsgDirectReceive direct)
    {
        var deadline = Deadline.Within(TimeSpan.FromMilliseconds(milliseconds));
        int recheck = (int)_device.Options.IdleRecheckInterval.TotalMilliseconds;
        var interrupt = Volatile.Read(ref _interrupt);
        if (interrupt.IsCancellationRequested && _device.State == RpmsgDeviceState.Running)
            Interlocked.Exchange(ref _interrupt, interrupt = new CancellationTokenSource()); // a closed queue's; then Poll looks at the state
        var token = _linked.Rent(cancellationToken, interrupt.Token, out var link);
        // Kept across passes: an application polling in a loop keeps the ring owned pass after pass, and the holder
        // must come to sleeping between its looks, not spin afresh each pass.
        var contention = new SpinWait();
        try
        {
            while (true)
            {
                if (!Poll(queue, ref contention, token, ref direct))
                    return direct.Done ? true : null; // stopped after our message was copied: it is the reader's
                if (direct.Done || Ready(queue))
                    return true;
                BeforeRearm?.Invoke();
                // Notifications on, then a last look (the enable's re-check): a message after it is kicked for.
                if (!RpmsgDispatcherThread.RearmRxNotifications(_device))
                    continue;
                // A message that came before the enable, kicked for or not, may have been taken by another thread's
                // Poll since our look: owning the ring still (it is delivering it), or done and it is queued.
                bool owned = _device.Rx.Owner.IsOwned; // before the look at the queue: that Poll queues before it hands the ring back
                if (Ready(queue))
                    return true;
                if (owned)
                {
                    contention.SpinOnce();
                    continue;
                }
                int slice = deadline.RemainingMillisecondsCappedAt(recheck);
                if (slice == 0)
                    return false;
                if (_device.Doorbell.Wait(TimeSpan.FromMilliseconds(slice), token))
                    RpmsgDispatcherThread.PrefetchAfterWake(_device);
                contention.Reset();
            }
        }
        catch (OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return null; // stopped, broken or the queue closed: the queue is closed (or about to be), and wakes the caller
        }
        catch (ObjectDisposedException)
        {
            return null; // the doorbell closed under a teardown
        }
        catch (Exception e)
        {
            // The doorbell failed (a UIO device or a peer's socket gone): what the dispatcher thread does when its own
            // wait fails. The reader then reports the break (its queue is closed).
            _device.Break(e is DoorbellClosedException closed
                ? RpmsgDevice.DoorbellClosedFault(closed)
                : new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "doorbell", 0, "doorbell wait failed in a blocked reader: " + e.Message));
            return null;
        }
        finally
        {
            _linked.Return(link);
        }
    }

    /// <summary>
    /// One pass over the rx ring; false when the device is no longer running. Another thread's Poll may own the ring
    /// and deliver our message to the queue with no kick left for us: wait for it to finish rather than on the doorbell.
    /// Unless a sender waits for a buffer (perhaps in that Poll's callback): the dispatcher would wake it on every ring
    /// of the doorbell, which we hold, so we do (nobody else hears the kick for the returned buffers). Done as soon as
    /// what we wait for is there (<see cref="Ready"/>: our message queued, by that Poll or our own; a receive our own Poll
    /// completed): that Poll may run callbacks for long, and one that waits for this reader, or for the continuation we
    /// run, would otherwise wait for itself.
    /// </summary>
    private bool Poll(RpmsgEndpointQueue? queue, ref SpinWait spin, CancellationToken token, ref RpmsgDirectReceive direct)
    {
        bool rang = true; // our doorbell wait's ring may have been for returned buffers
        while (true)
        {
            if (_device.State != RpmsgDeviceState.Running)
                return false;
            try
            {
                _device.Rx.Poll(ref direct);
            }
            catch (RpmsgDeviceUnavailableException)
            {
                return false;
            }
            if (direct.Done || !_device.Rx.Owner.IsOwned || Ready(queue))
                return true;
            if (_device.Tx.Waiters > 0)
            {
                if (rang)
                    _device.Tx.Signal();
                rang = _device.Doorbell.Wait(RpmsgDispatcherThread.HelperRecheck, token); // bounded: the Poll may end without a ring
                continue;
            }
            // That Poll may run a long callback: a cancellation, stop or closed queue ends our wait meanwhile.
            token.ThrowIfCancellationRequested();
            spin.SpinOnce(); // sleeps after a while
        }
    }

    private void GiveBack(bool needed)
    {
        Volatile.Write(ref _holderQueue, null);
        Volatile.Write(ref _holderThread, 0);
        Volatile.Write(ref _holder, Lent);
        // Full fence, then the look at _longPark: against the dispatcher's store to it, then its look at _activity.
        Interlocked.Increment(ref _activity);
        if (needed || Volatile.Read(ref _longPark) != 0)
            WakeDispatcher(needed);
    }

    private void WakeDispatcher(bool needed)
    {
        lock (_park)
        {
            _needed |= needed;
            Monitor.Pulse(_park);
        }
    }

    /// <summary>A sender starts waiting for a tx buffer: the dispatcher takes the doorbell back as soon as it is free.</summary>
    internal void NeedDispatcher()
    {
        if (_enabled && Volatile.Read(ref _holder) != ByDispatcher)
            WakeDispatcher(needed: true);
    }

    /// <summary>The device broke or stops: a reader's doorbell wait ends, and the parked dispatcher looks at the state.</summary>
    internal void OnUnavailable()
    {
        Interlocked.MemoryBarrier(); // the state (already not Running) before the look at _interrupt: against a holder replacing it
        Volatile.Read(ref _interrupt).Cancel();
        WakeDispatcher(needed: true);
    }

    /// <summary>
    /// Stop, after <see cref="OnUnavailable"/> and the dispatcher thread's end: waits until no reader waits on the
    /// doorbell. Its wait is already cancelled, but its thread may not have run since, and a fresh device over the
    /// same doorbell (a vdev recovery) must be its only waiter (eventfd and UIO doorbells refuse a second one). Not on
    /// the holder's own thread (Stop from a callback its Poll runs): it leaves once that callback returns.
    /// </summary>
    internal void AwaitReaderGone()
    {
        if (!_enabled || IsHeldByCurrentThread)
            return;
        lock (_park)
        {
            // The give-back pulses (needed); the look bounds a pulse that went to another waiter on _park.
            while (Volatile.Read(ref _holder) == ByReader)
                Monitor.Wait(_park, RpmsgDispatcherThread.HelperRecheck);
        }
    }

    /// <summary>Stop: the kept link with a reader's token leaves that token.</summary>
    internal void ReleaseCallerTokens() => _linked.Close();

    /// <summary>A queue closed (its endpoint destroyed, say): a holder waiting for it stops waiting on the doorbell.</summary>
    internal void OnQueueClosed(RpmsgEndpointQueue queue)
    {
        Interlocked.MemoryBarrier(); // the close before the look at the holder's queue
        if (ReferenceEquals(Volatile.Read(ref _holderQueue), queue))
            Volatile.Read(ref _interrupt).Cancel();
    }
}
