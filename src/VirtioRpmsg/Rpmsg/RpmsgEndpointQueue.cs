using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The receive queue of a queue-style endpoint: a bounded ring of copied messages (RpmsgEndpointQueue.Slots.cs: slots
/// that keep their arrays, so a message costs no rent, return or lock on the writer's side).
/// <para>
/// Full policy: the dispatcher only ever calls <see cref="TryEnqueue"/>, which never waits, so a full
/// queue can never block it; the message that does not fit is dropped and the caller counts it (the
/// endpoint's <c>QueueDrops</c> and the device's <c>Dropped</c>). Older messages are kept: a reader sees
/// a prefix of what arrived, never a gap in the middle.
/// </para>
/// <para>
/// Memory: every queued message is charged to the device's <see cref="RpmsgQueueBudget"/> until it is
/// read or drained; a message the budget cannot cover is dropped like one that finds the queue full.
/// </para>
/// <para>
/// Close (destroy, or the device breaking or stopping) closes the slots to the writer: readers drain what is
/// queued, then see <see cref="IsClosed"/> and report why. Peek, size check and read happen under one
/// small lock so that a destination too small for the next message leaves it queued even with
/// concurrent readers. A reader that finds nothing first spins (briefly; for up to the spin budget
/// under hybrid and busy-poll, so a reader under load never pays a wake-up), then sleeps: blocking
/// readers on that lock, async readers as pooled <see cref="RpmsgQueueWaiter"/>s. The writer wakes them
/// only when one is asleep (a Dekker pair on <c>_sleepers</c>, so the dispatcher takes no lock of ours
/// per message). Nothing on these paths allocates per message. A spinning reader's own poll may hand it
/// its message without the queue (<see cref="TryHandDirect"/>).
/// </para>
/// </summary>
internal sealed partial class RpmsgEndpointQueue
{
    private readonly object _readLock = new();
    private readonly long _spinTicks;
    private readonly int _largest; // the largest message the device delivers: a destination this big fits any
    private readonly RpmsgDevice? _device; // polled by a spinning reader (RpmsgReaderSpin)
    private readonly RpmsgQueueBudget _budget;
    private int _sleepers; // blocking readers asleep (or about to sleep) on _readLock, plus listed async waiters
    private RpmsgQueueWaiter? _waiters; // async waiters to wake, under _readLock
    private RpmsgQueueWaiter? _free;    // pooled waiters, under _readLock

    /// <param name="capacity">Messages the queue holds.</param>
    /// <param name="budget">The device-wide budget queued messages are charged to (none: unbounded).</param>
    /// <param name="spin">How long a reader spins for a message before it sleeps (<see cref="SpinBudget"/>).</param>
    /// <param name="device">The device a spinning reader polls (<see cref="RpmsgReaderSpin"/>); null polls nothing.</param>
    /// <param name="largestMessage">Without a device: the largest message written (default: any size).</param>
    internal RpmsgEndpointQueue(int capacity, RpmsgQueueBudget? budget = null, TimeSpan spin = default, RpmsgDevice? device = null, int largestMessage = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity); // the count shares its word with the closed bit
        Capacity = capacity;
        _budget = budget ?? new RpmsgQueueBudget(long.MaxValue);
        _device = device;
        _largest = device?.MaxPayload ?? largestMessage;
        _spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
        _slots = new Slot[Math.Min(capacity, InitialSlots)];
    }

    /// <summary>
    /// A reader's spin budget for <paramref name="options"/>: the dispatcher's own hybrid spin under hybrid, its idle
    /// timeout under busy-poll (the application chose to burn a core), none under interrupt and caller-poll.
    /// </summary>
    internal static TimeSpan SpinBudget(RpmsgDeviceOptions options) => options.WaitStrategy switch
    {
        RpmsgWaitStrategy.Hybrid => options.HybridSpin,
        RpmsgWaitStrategy.BusyPoll => options.BusyPollIdleTimeout,
        _ => TimeSpan.Zero,
    };

    internal int Capacity { get; }

    /// <summary>Blocking readers asleep (or about to sleep) on the queue plus parked async readers (tests).</summary>
    internal int Sleepers => Volatile.Read(ref _sleepers);

    /// <summary>Copies and queues a message; false (nothing queued) when the queue is full or closed, or the budget used up.</summary>
    internal bool TryEnqueue(uint source, ReadOnlySpan<byte> payload)
    {
        // Closed (Stop closes as it begins, while the writer may still deliver): refused before the charge, which could
        // take a withdrawn channel's unread messages back for a message that is not queued. A look only: the
        // publication refuses all the same once the slots are closed.
        if (IsClosing)
            return false;
        if (!_budget.TryCharge(payload.Length))
            return false;
        // Counted as charged first: a reader may take the message (and count it out) as soon as it is published.
        _chargedIn += RpmsgQueueBudget.Cost(payload.Length); // the single writer's: what RetainUnread lists as retained
        if (!TryWrite(source, payload))
        {
            _chargedIn -= RpmsgQueueBudget.Cost(payload.Length);
            _budget.Refund(payload.Length);
            return false;
        }
        // Store (the message, the count) then load (_sleepers), against the reader's store (_sleepers++) then
        // load (its re-check of the count): with a full fence on both sides (the interlocked publication) one of
        // them sees the other. A blocking reader that counted itself holds the lock until Monitor.Wait releases it.
        if (Volatile.Read(ref _sleepers) > 0)
            WakeReaders(all: false);
        return true;
    }

    /// <summary>
    /// The rx ring's owner, polling for <paramref name="direct"/>'s reader: copies the message straight into its
    /// destination when nothing is queued before it, no reader sleeps or is parked on the queue, and it fits.
    /// </summary>
    internal bool TryHandDirect(uint source, ReadOnlySpan<byte> payload, ref RpmsgDirectReceive direct)
    {
        // Only the ring's owner writes, so an empty queue stays empty while we look; readers only take.
        if (Volatile.Read(ref _state) != 0 || Volatile.Read(ref _sleepers) != 0 || payload.Length > direct.Destination.Length)
            return false;
        payload.CopyTo(direct.Destination);
        direct.Result = new RpmsgReceiveResult(source, payload.Length);
        direct.Done = true;
        return true;
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/>; false when none is queued. A
    /// destination too small throws <see cref="ArgumentException"/> and leaves the message queued.
    /// </summary>
    internal bool TryDequeue(Span<byte> destination, out RpmsgReceiveResult result)
    {
        if (Count == 0)
        {
            result = default;
            return false;
        }
        lock (_readLock)
        {
            // Any message fits: read without the size check.
            if (destination.Length >= _largest)
            {
                if (Count == 0)
                {
                    result = default;
                    return false;
                }
                result = Take(destination);
                return true;
            }
            return TryDequeueLocked(destination, out result);
        }
    }

    // Out of line: the message's wording would otherwise be built inside every dequeue's frame.
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTooSmall(int room, int length) =>
        throw new ArgumentException($"destination of {room} bytes is smaller than the next {length}-byte message", "destination");

    private bool TryDequeueLocked(Span<byte> destination, out RpmsgReceiveResult result)
    {
        if (!TryPeekLength(out int length))
        {
            result = default;
            return false;
        }
        if (destination.Length < length)
        {
            // This reader may have taken the writer's one pulse for the message it leaves queued: pass it on.
            PassWakeOn();
            ThrowTooSmall(destination.Length, length);
        }
        result = Take(destination);
        return true;
    }

    // Under _readLock, with a message queued that fits destination.
    private RpmsgReceiveResult Take(Span<byte> destination)
    {
        int left = TakeSlot(destination, copy: true, out uint source, out int length);
        _chargedOut += RpmsgQueueBudget.Cost(length);
        _budget.Refund(length);
        // After the refund: a charge racing this take either finds the room, or still finds the queue listed (its
        // reclaim then waits for _readLock, held here). Unlisted first, the charge saw neither and was refused.
        if (_retained)
            RetainedTaken(length, left);
        return new RpmsgReceiveResult(source, length);
    }

    /// <summary>
    /// Waits for the next message and copies it into <paramref name="destination"/> (the endpoint's <c>ReceiveAsync</c>);
    /// <paramref name="closed"/> says why a closed queue has nothing more. Completes synchronously when a message is
    /// queued or arrives within the spin budget; otherwise it parks a pooled <see cref="RpmsgQueueWaiter"/> that the
    /// writer fills. No async state machine: nothing is allocated per message, in any build.
    /// </summary>
    internal ValueTask<RpmsgReceiveResult> ReceiveAsync(Memory<byte> destination, Func<Exception> closed, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                if (TryDequeue(destination.Span, out var result))
                    return new ValueTask<RpmsgReceiveResult>(result);
                if (IsClosed)
                    return ValueTask.FromException<RpmsgReceiveResult>(closed());
                var direct = new RpmsgDirectReceive(this, destination.Span);
                if (SpinUntilReady(ref direct))
                {
                    if (direct.Done)
                        return new ValueTask<RpmsgReceiveResult>(direct.Result);
                    continue;
                }
                if (cancellationToken.IsCancellationRequested)
                    return ValueTask.FromCanceled<RpmsgReceiveResult>(cancellationToken);
                if (TryPark(destination, closed, cancellationToken) is { } waiter)
                    return waiter.Start();
            }
        }
        catch (Exception e) when (e is ArgumentException or ObjectDisposedException or InvalidOperationException)
        {
            return ValueTask.FromException<RpmsgReceiveResult>(e); // a receive's failures fault its task, as an async method's would
        }
    }

    /// <summary>Lists a pooled waiter at the tail (parked readers are served in arrival order); null when a message arrived meanwhile.</summary>
    private RpmsgQueueWaiter? TryPark(Memory<byte> destination, Func<Exception> closed, CancellationToken cancellationToken)
    {
        lock (_readLock)
        {
            Interlocked.Increment(ref _sleepers); // full fence before the re-check below
            if (Ready())
            {
                Interlocked.Decrement(ref _sleepers);
                return null;
            }
            var waiter = _free ?? new RpmsgQueueWaiter(this);
            _free = waiter.Next;
            waiter.Next = null;
            waiter.Arm(destination, closed, cancellationToken);
            ref var link = ref _waiters;
            while (link is not null)
                link = ref link.Next;
            link = waiter;
            _device?.Rx.HandOver.OnAsyncParked();
            return waiter;
        }
    }

    /// <summary>Removes <paramref name="waiter"/> from the waiter list; false when a writer or close took it first.</summary>
    internal bool TryUnlist(RpmsgQueueWaiter waiter)
    {
        lock (_readLock)
        {
            if (!RpmsgWaiterList.TryRemove(ref _waiters, waiter))
                return false;
            Interlocked.Decrement(ref _sleepers);
            _device?.Rx.HandOver.OnAsyncUnparked();
            return true;
        }
    }

    /// <summary>Returns a completed waiter to the pool.</summary>
    internal void Recycle(RpmsgQueueWaiter waiter)
    {
        lock (_readLock)
        {
            waiter.Next = _free;
            _free = waiter;
        }
    }

    /// <summary>
    /// Blocks up to <paramref name="milliseconds"/> (-1: no limit) until a message may be readable or the
    /// queue is closed; false on timeout. Called once TryDequeue found nothing. It spins first (see the
    /// class), then sleeps on the readers' lock (woken by the writer's pulse), so it allocates nothing.
    /// </summary>
    internal bool Wait(int milliseconds, CancellationToken cancellationToken, ref RpmsgDirectReceive direct)
    {
        if (SpinUntilReady(ref direct))
            return true;
        cancellationToken.ThrowIfCancellationRequested();
        if (_device?.Rx.HandOver.TryWait(this, milliseconds, cancellationToken, ref direct) is bool ready)
            return ready;
        // Disposed after the lock is released: a running wake-up callback needs the lock.
        using (cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static q => ((RpmsgEndpointQueue)q!).WakeReaders(all: true), this) : default)
        {
            lock (_readLock)
            {
                Interlocked.Increment(ref _sleepers); // full fence before the re-check below
                bool woken;
                try
                {
                    // Lent meanwhile: its wake-up (WakeForDoorbell, under this lock) may have come before we wait.
                    if (Ready() || _device?.Rx.HandOver.IsLent == true)
                        return true;
                    woken = Monitor.Wait(_readLock, milliseconds);
                }
                finally
                {
                    Interlocked.Decrement(ref _sleepers);
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    // Leaving without a take: a pulse this reader got for a queued message goes to the next sleeper.
                    if (Ready())
                        PassWakeOn();
                    cancellationToken.ThrowIfCancellationRequested();
                }
                return woken || Ready();
            }
        }
    }

    /// <summary>
    /// Under <c>_readLock</c>: a reader leaves a queued message to others (too small for it, or cancelled). The writer
    /// pulses one sleeper per message, and that pulse may have gone to this reader: another sleeper looks instead.
    /// </summary>
    private void PassWakeOn()
    {
        if (Volatile.Read(ref _sleepers) > 0)
            Monitor.Pulse(_readLock);
    }

    /// <summary>Spins for a message (<see cref="RpmsgReaderSpin"/>); true when ready.</summary>
    private bool SpinUntilReady(ref RpmsgDirectReceive direct) => RpmsgReaderSpin.Until(this, _device, _spinTicks, ref direct);

    /// <summary>A message is queued, or the queue closed.</summary>
    internal bool Ready() => Volatile.Read(ref _state) != 0;

    /// <summary>
    /// Wakes one blocking reader (or all, <paramref name="all"/>), and serves parked async readers in order: each gets
    /// the next message copied into its destination (or its failure: too small, queue closed) while any is left.
    /// </summary>
    private void WakeReaders(bool all)
    {
        RpmsgQueueWaiter? served = null;
        lock (_readLock)
        {
            if (all)
                Monitor.PulseAll(_readLock);
            else
                Monitor.Pulse(_readLock);
            ref var tail = ref served;
            while (_waiters is { } w)
            {
                try
                {
                    if (!TryDequeueLocked(w.Destination.Span, out w.Result))
                    {
                        if (!IsClosed)
                            break;
                        w.Error = w.Closed!();
                    }
                }
                catch (Exception e) when (e is ArgumentException or ObjectDisposedException or InvalidOperationException)
                {
                    w.Error = e;
                }
                _waiters = w.Next;
                w.Next = null;
                Interlocked.Decrement(ref _sleepers);
                _device?.Rx.HandOver.OnAsyncUnparked();
                tail = w;
                tail = ref w.Next;
            }
        }
        // Completed outside the lock; continuations run on the thread pool, never on the dispatcher (RpmsgQueueWaiter.Complete).
        while (served is not null)
        {
            var next = served.Next;
            served.Next = null;
            served.Complete();
            served = next;
        }
    }

    /// <summary>The dispatcher lent the doorbell (<see cref="RpmsgDoorbellHandOver"/>): blocking readers wake, and one takes it.</summary>
    internal void WakeForDoorbell()
    {
        lock (_readLock)
            Monitor.PulseAll(_readLock);
    }
}
