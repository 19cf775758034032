using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The send side of a device: copy sends (try, blocking, async), zero-copy buffers, and the senders
/// waiting for a free tx buffer. "Tx buffer returned" notifications are armed only while someone waits
/// (as Linux does); waiters are woken through one <see cref="RpmsgTxSignal"/> that the dispatcher (or a
/// cancelled zero-copy buffer) raises, and a wait allocates nothing (async ones park a pooled waiter).
/// Any number of threads may send at once.
/// A sender inside a receive callback goes first: while one waits, application senders leave freed
/// buffers to it. Otherwise application senders can win every returned buffer while the callback (and
/// with it this side's receive path) waits, until both sides' parking backlogs fill and the two
/// dispatchers wait on each other until the send timeout.
/// </summary>
internal sealed partial class RpmsgTxPath
{
    private readonly RpmsgDevice _device;
    private readonly RpmsgDataGate _gate;
    private readonly RpmsgDeviceCounters _counters;
    private readonly object _armLock = new();
    private readonly RpmsgTxSignal _signal = new();
    private readonly RpmsgLinkedStop _linkedStop = new(); // a callback sender's token with the device's stop
    private int _waiters;
    // Callback senders waiting now; application senders hand it to the transport, which looks at it with the take.
    private readonly RpmsgTxTurn _turn = new();
    private bool _armed; // under _armLock

    internal RpmsgTxPath(RpmsgDevice device, RpmsgDataGate gate, RpmsgDeviceCounters counters)
    {
        _device = device;
        _gate = gate;
        _counters = counters;
    }

    /// <summary>Senders blocked for a tx buffer now.</summary>
    internal int Waiters => Volatile.Read(ref _waiters);

    /// <summary>Senders asleep on the tx-returned signal (tests).</summary>
    internal int SignalSleepers => _signal.Sleepers;

    /// <summary>
    /// Non-blocking send with explicit addresses: false at once when no tx buffer is free (or, with
    /// <paramref name="yieldTo"/>, while a callback sender waits for one); <see cref="RpmsgAddress.Any"/> as either address throws.
    /// </summary>
    internal bool TrySend(uint source, uint destination, ReadOnlySpan<byte> payload, RpmsgTxTurn? yieldTo = null, RpmsgEndpoint? owner = null)
    {
        RpmsgAddress.CheckSendable(source, destination);
        return TryCopy(source, destination, payload, yieldTo, owner);
    }

    // A try with addresses already checked: the first try of every send and its re-tries (false for a destroyed owner: Fence).
    internal bool TryCopy(uint source, uint destination, ReadOnlySpan<byte> payload, RpmsgTxTurn? yieldTo = null, RpmsgEndpoint? owner = null)
    {
        CheckPayload(payload.Length);
        var transport = _gate.Enter();
        try
        {
            // RegionClosedException when unmapped under us: the transport keeps the buffer.
            if (!transport.TrySendCopy(source, destination, payload, yieldTo, owner))
                return false;
            CountTx();
            return true;
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>
    /// Refuses a payload no buffer carries. Every try checks it; a send that waits (for a tx buffer a callback sender
    /// has the turn for, or for its endpoint's remote address) checks it before the wait, or it waited its whole
    /// timeout and reported a <see cref="TimeoutException"/> instead.
    /// </summary>
    internal void CheckPayload(int length)
    {
        int max = _device.MaxPayload;
        if (length > max)
            throw new RpmsgPayloadTooLargeException(length, max);
    }

    // On the dispatcher thread (single writer) without a locked instruction.
    private void CountTx()
    {
        if (_gate.IsJoinedByStop)
            _counters.CountTxOnDispatcher();
        else
            _counters.CountTx();
    }

    /// <summary>
    /// Blocking send: waits for a tx buffer up to <paramref name="timeout"/> or cancellation. The timeout starts when the
    /// first try finds no buffer: a send that does not wait never reads the clock (on a KVM guest a read costs about as
    /// much as the take). A wait ends, too, when <paramref name="owner"/> is destroyed (its destroy signals the waiters).
    /// The <see cref="TimeoutException"/> names <paramref name="stated"/> when given (the caller's, of which <paramref name="timeout"/> is what is left).
    /// </summary>
    internal void Send(uint source, uint destination, ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken, RpmsgEndpoint? owner = null, TimeSpan? stated = null)
    {
        RpmsgAddress.CheckSendable(source, destination);
        if (!(MayTakeFirst() && TakeChecked() && TryCopy(source, destination, payload, FirstTurn(), owner)))
            SendWaiting(source, destination, payload, Deadline.Within(timeout), stated ?? timeout, cancellationToken, owner);
    }

    private void SendWaiting(uint source, uint destination, ReadOnlySpan<byte> payload, Deadline deadline, TimeSpan timeout, CancellationToken cancellationToken, RpmsgEndpoint? owner)
    {
        CheckPayload(payload.Length); // the first try may not have looked (a callback sender's turn)
        bool callback = _device.Rx.IsDispatcherContext;
        MappingLease.ThrowIfHeld("RpmsgDevice.Send");
        BeginWait(callback, deadline);
        var backoff = default(RpmsgRecheckBackoff);
        try
        {
            while (true)
            {
                long signal = _signal.Generation;
                owner?.ThrowIfCannotSend(); // before each re-try: a destroyed endpoint's address may be another's now
                if (MayTake(callback) && TryCopy(source, destination, payload, TurnFor(callback), owner))
                    return;
                Wait(signal, deadline, timeout, cancellationToken, ref backoff);
            }
        }
        finally
        {
            EndWait(callback);
        }
    }

    /// <summary>
    /// Test hook: raised on an application thread between its look at the callback waiters (and its endpoint) and its
    /// take, or a zero-copy send's submission.
    /// </summary>
    internal Action? ApplicationTakeChecked { get; set; }

    private bool TakeChecked()
    {
        ApplicationChecked();
        return true;
    }

    internal void ApplicationChecked()
    {
        if (ApplicationTakeChecked is { } hook && !_device.Rx.IsDispatcherContext)
            hook();
    }

    // Application senders step aside while a callback sender waits (see the class remarks). Read the
    // signal before this check: the callback sender's EndWait signals after it stops waiting.
    // This look only saves a try; the one that counts is the transport's, under its tx gate with the take
    // (TurnFor): an application sender preempted between a look and its take must not take a buffer freed
    // after a callback sender's failed try.
    internal bool MayTake(bool callback) => callback || !_turn.ApplicationMustWait;

    /// <summary>What a sender hands the transport: application senders the turn, callback senders nothing (they go first).</summary>
    internal RpmsgTxTurn? TurnFor(bool callback) => callback ? null : _turn;

    // The first try of a send: the thread-static dispatcher check only when a callback sender waits.
    private bool MayTakeFirst() => !_turn.ApplicationMustWait || _device.Rx.IsDispatcherContext;

    // The first try's turn: the transport looks again at the take, unless this is a callback sender (the
    // dispatcher) while one waits, which goes first too. An application sender always hands the turn over.
    private RpmsgTxTurn? FirstTurn() => _turn.ApplicationMustWait && _device.Rx.IsDispatcherContext ? null : _turn;

    /// <summary>Async send: like <see cref="Send"/> without blocking a thread (its timeout, too, starts at a failed try).</summary>
    internal ValueTask SendAsync(uint source, uint destination, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken, RpmsgEndpoint? owner = null, TimeSpan? stated = null)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        try
        {
            RpmsgAddress.CheckSendable(source, destination);
            if (MayTakeFirst() && TryCopy(source, destination, payload.Span, FirstTurn(), owner))
                return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e); // a send's failures fault its task, as an async method's would
        }
        return SendAsyncSlow(source, destination, payload, Deadline.Within(timeout), stated ?? timeout, _device.Rx.IsDispatcherContext, cancellationToken, owner);
    }

    // No async method (a debug build allocates its state machine per call): a pooled send object that re-tries.
    private ValueTask SendAsyncSlow(uint source, uint destination, ReadOnlyMemory<byte> payload, Deadline deadline, TimeSpan timeout, bool callback, CancellationToken cancellationToken, RpmsgEndpoint? owner)
    {
        try
        {
            CheckPayload(payload.Length); // the first try may not have looked (a callback sender's turn)
            BeginWait(callback, deadline);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
        return _signal.Rent(this).Start(source, destination, payload, deadline, timeout, callback, cancellationToken, owner);
    }

    /// <summary>Wakes waiting senders if buffers came back (dispatcher, after a batch or before sleeping).</summary>
    internal void WakeIfReturned(IRpmsgTransport transport)
    {
        if (Volatile.Read(ref _waiters) > 0 && transport.TxAvailable)
            Signal();
    }

    /// <summary>Wakes every waiting sender (they re-try, or see the state).</summary>
    internal void Signal() => _signal.Signal();

    // Arming writes the ring (used_event / avail.flags), so it is a data operation: never after Stop.
    internal void BeginWait(bool callback, Deadline deadline)
    {
        _counters.CountTxWait();
        if (callback)
        {
            Interlocked.Increment(ref _turn.CallbackWaiters);
            _device.Rx.CallbackSendBeganWaiting(deadline);
        }
        lock (_armLock)
        {
            Interlocked.Increment(ref _waiters);
            // Counted first (a full fence), then the look at the doorbell: against a lend's store, then its look at the
            // count. A reader holding the doorbell may leave for long: the dispatcher takes it back and signals us.
            _device.Rx.HandOver.NeedDispatcher();
            // CallerPoll outside a callback: nobody waits on the doorbell (the sender re-tries, Poll
            // wakes it), so asking the peer to kick would only fill the doorbell. Armed by the first waiter
            // that needs it, not only by the first waiter: a callback sender inside a CallerPoll Poll waits on
            // the doorbell even when an application sender began waiting (unarmed) before it.
            if (_armed || (!_device.HasDispatcherThread && !_device.Rx.IsDispatcherContext))
                return;
            if (!_gate.TryEnter(out var transport))
                return; // not running: the waiter's next try reports the state
            try
            {
                transport.ArmTxNotifications(true);
                _armed = true;
            }
            catch (Exception e) when (RpmsgDataGate.Handles(e))
            {
                Interlocked.Decrement(ref _waiters);
                if (callback)
                    Interlocked.Decrement(ref _turn.CallbackWaiters);
                throw _gate.Translate(e);
            }
            finally
            {
                _gate.Exit();
            }
        }
    }

    internal void EndWait(bool callback = false)
    {
        // The application senders that stepped aside wait on the signal: wake them to re-try.
        if (callback && Interlocked.Decrement(ref _turn.CallbackWaiters) == 0 && Volatile.Read(ref _waiters) > 1)
            Signal();
        lock (_armLock)
        {
            // CallerPoll: only a callback sender waits on the doorbell; application senders left waiting are
            // woken by Poll, and kicks for them would pile up unread (a peer whose kick blocks could fill the doorbell).
            int left = Interlocked.Decrement(ref _waiters);
            if (!_armed || (left != 0 && (_device.HasDispatcherThread || Volatile.Read(ref _turn.CallbackWaiters) > 0)))
                return;
            _armed = false;
            if (!_gate.TryEnter(out var transport))
                return;
            try
            {
                transport.ArmTxNotifications(false);
            }
            catch (Exception e) when (RpmsgDataGate.Handles(e))
            {
                // The waiter already has its outcome; a fault here still breaks the device.
                _gate.Absorb(e, "tx notifications not disarmed");
            }
            finally
            {
                _gate.Exit();
            }
        }
    }

    private void Wait(long signal, Deadline deadline, TimeSpan timeout, CancellationToken cancellationToken, ref RpmsgRecheckBackoff backoff)
    {
        _device.ThrowIfUnavailable();
        int wait = deadline.RemainingMilliseconds;
        if (wait == 0)
            throw Timeout(timeout);
        bool callback = _device.Rx.IsDispatcherContext;
        // With a dispatcher thread the signal comes as soon as buffers return. Without one
        // (CallerPoll) it comes from the application's Poll(), which a thread blocked here may be
        // the only one to call: re-check at least every IdleRecheckInterval (sends reclaim).
        if (!callback && _device.HasDispatcherThread && !ReturnsUnsignalled)
        {
            _signal.Wait(signal, wait, cancellationToken);
            return;
        }
        // Clipped to the deadline: the last wait ends with it, not a back-off step later.
        int slice = deadline.RemainingMillisecondsCappedAt(RecheckMilliseconds(backoff));
        RecheckWaiting?.Invoke(slice, wait);
        bool woken = callback ? WaitInCallback(signal, slice, cancellationToken) : _signal.Wait(signal, slice, cancellationToken);
        backoff.Waited(woken);
    }

    internal void ThrowIfUnavailable() => _device.ThrowIfUnavailable();

    /// <summary>
    /// How long a parked async send waits before it re-tries: 0 once its deadline passed. Without a dispatcher thread
    /// (CallerPoll) the signal comes only from the application's next Poll, which the awaiting code may be the one to
    /// call: at most IdleRecheckInterval, as a blocking sender (<see cref="Wait"/>), since a try reclaims what the
    /// peer returned. Parked for its whole timeout instead, such a send timed out with every buffer back long before.
    /// A peer that returns buffers unsignalled: <paramref name="backoff"/>'s next re-check. Always clipped to the deadline.
    /// </summary>
    internal int ParkMilliseconds(Deadline deadline, in RpmsgRecheckBackoff backoff)
    {
        int wait = deadline.RemainingMilliseconds;
        if (wait == 0 || (_device.HasDispatcherThread && !ReturnsUnsignalled))
            return wait;
        int slice = deadline.RemainingMillisecondsCappedAt(RecheckMilliseconds(backoff));
        RecheckWaiting?.Invoke(slice, wait);
        return slice;
    }

    /// <summary>Test hook: a waiting sender's next re-check wait (ms) and the ms left until its deadline (-1: none).</summary>
    internal Action<int, int>? RecheckWaiting { get; set; }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    internal TimeoutException Timeout(TimeSpan timeout) => // the send's own timeout: the caller's, or the device's SendTimeout
        new($"rpmsg device '{_device.Name}': no free tx buffer within the send timeout ({timeout.TotalMilliseconds} ms)" + ParkingNote());
}
