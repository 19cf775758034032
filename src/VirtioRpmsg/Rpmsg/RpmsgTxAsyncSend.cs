using System.Diagnostics;
using System.Threading.Tasks.Sources;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// An async send that found no free tx buffer (<see cref="RpmsgTxPath"/>'s SendAsync), pooled by the
/// <see cref="RpmsgTxSignal"/> so that a send that waits allocates nothing, in any build (no async method: a debug
/// build allocates every async method's state machine). It re-tries, and when that fails parks itself on the signal;
/// a signal, its timeout (a timer it keeps and re-arms) or its cancellation queues it to the thread pool to re-try
/// there (never on the dispatcher). It ends with the send done, the send timeout, the cancellation or the send's
/// failure; the awaiter's first <see cref="GetResult"/> returns it to the pool (only that one: <see cref="RpmsgPooledWait"/>).
/// </summary>
internal sealed class RpmsgTxAsyncSend : IValueTaskSource, IThreadPoolWorkItem, IRpmsgListedWaiter<RpmsgTxAsyncSend>
{
    private readonly RpmsgTxPath _tx;
    private readonly RpmsgTxSignal _signal;
    // Completed on the thread that re-tried (a pool thread), or before the caller has the ValueTask: no extra hop.
    private ManualResetValueTaskSourceCore<bool> _core;
    private Timer? _timer;
    private long _due; // Stopwatch timestamp of the parked wait's end, under the signal's lock
    private uint _source;
    private uint _destination;
    private ReadOnlyMemory<byte> _payload;
    private Deadline _deadline;
    private TimeSpan _timeout; // the send's own timeout, for its TimeoutException
    private bool _callback;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;
    private RpmsgPooledWait _wait;
    private RpmsgEndpoint? _owner; // a send from an endpoint ends when it is destroyed
    private RpmsgRecheckBackoff _backoff; // its re-checks while the peer returns buffers unsignalled

    internal RpmsgTxAsyncSend(RpmsgTxPath tx, RpmsgTxSignal signal)
    {
        _tx = tx;
        _signal = signal;
    }

    /// <summary>The next send in the signal's parked list or free list (under its lock).</summary>
    internal RpmsgTxAsyncSend? Next;

    ref RpmsgTxAsyncSend? IRpmsgListedWaiter<RpmsgTxAsyncSend>.NextWaiter => ref Next;

    internal bool IsCancellationRequested => _token.IsCancellationRequested;

    /// <summary>Starts the send (the caller already began the wait, <see cref="RpmsgTxPath.BeginWait"/>): re-tries at once, then waits.</summary>
    internal ValueTask Start(uint source, uint destination, ReadOnlyMemory<byte> payload, Deadline deadline, TimeSpan timeout, bool callback, CancellationToken cancellationToken, RpmsgEndpoint? owner)
    {
        _core.Reset();
        _wait.Arm(_core.Version);
        _source = source;
        _destination = destination;
        _payload = payload;
        _deadline = deadline;
        _timeout = timeout;
        _callback = callback;
        _token = cancellationToken;
        _owner = owner;
        _backoff = default;
        short version = _core.Version;
        // A token cancelled already runs the callback here: it finds nothing parked, and the first try sees the token.
        if (cancellationToken.CanBeCanceled)
            _registration = cancellationToken.UnsafeRegister(static s => ((RpmsgTxAsyncSend)s!).OnCancelled(), this);
        Run();
        return new ValueTask(this, version);
    }

    /// <summary>Re-tries until the send is done, ends, or parks (then a wake-up calls this again).</summary>
    private void Run()
    {
        while (true)
        {
            long signal = _signal.Generation;
            int wait;
            try
            {
                if (_token.IsCancellationRequested)
                {
                    Finish(new OperationCanceledException(_token));
                    return;
                }
                _owner?.ThrowIfCannotSend(); // before each re-try: a destroyed endpoint's address may be another's now
                if (_tx.MayTake(_callback) && _tx.TryCopy(_source, _destination, _payload.Span, _tx.TurnFor(_callback), _owner))
                {
                    Finish(null);
                    return;
                }
                _tx.ThrowIfUnavailable();
                wait = _tx.ParkMilliseconds(_deadline, _backoff);
                if (wait == 0)
                {
                    Finish(_tx.Timeout(_timeout));
                    return;
                }
            }
            catch (Exception e)
            {
                Finish(e);
                return;
            }
            if (_signal.TryPark(this, signal, wait))
                return;
            _backoff.Waited(woken: true); // a signal since the try: re-try at once, and re-check soon again
        }
    }

    /// <summary>A signal (or its cancellation) took it off the list: re-try (on a pool thread).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        _backoff.Waited(woken: true);
        Run();
    }

    /// <summary>Starts the timeout of a parked wait (under the signal's lock).</summary>
    internal void ArmTimer(int milliseconds)
    {
        if (milliseconds < 0)
        {
            _due = long.MaxValue;
            return;
        }
        _due = Stopwatch.GetTimestamp() + milliseconds * Stopwatch.Frequency / 1000;
        _timer ??= new Timer(static s => ((RpmsgTxAsyncSend)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
        _timer.Change(milliseconds, Timeout.Infinite);
    }

    private void OnTimer()
    {
        lock (_signal.Lock)
        {
            // A timer of an earlier wait (this send re-parked, or the pooled object serves another send) can come
            // late: only a wait that is due ends; an early one is re-armed for the rest.
            long left = _due - Stopwatch.GetTimestamp();
            if (left > 0)
            {
                if (_due != long.MaxValue)
                    _timer!.Change((int)Math.Min(int.MaxValue - 1, left * 1000 / Stopwatch.Frequency + 1), Timeout.Infinite);
                return;
            }
            if (!_signal.TryUnlist(this))
                return;
        }
        _backoff.Waited(woken: false); // nothing came: the next re-check (if any) waits longer
        Run(); // on the timer's pool thread: one more try, then the timeout
    }

    private void OnCancelled()
    {
        // Re-tried on the pool, not on the thread that cancelled (it may hold locks of its own).
        if (_signal.TryUnlist(this))
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private void Finish(Exception? error)
    {
        // Waits for a running cancellation callback (never this one: Finish runs only in Run), so nothing but a late
        // timer (see OnTimer) touches this send once it is pooled.
        _registration.Dispose();
        _registration = default;
        _timer?.Change(Timeout.Infinite, Timeout.Infinite);
        _payload = default;
        _owner = null;
        try
        {
            _tx.EndWait(_callback);
        }
        catch (Exception e)
        {
            error ??= e;
        }
        if (error is null)
            _core.SetResult(true);
        else
            _core.SetException(error);
    }

    /// <inheritdoc />
    public void GetResult(short token)
    {
        // A stale or repeated call throws here, before the finally could pool this send a second time.
        _wait.End(token, _core.GetStatus(token), "RpmsgEndpoint.SendAsync");
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            _token = default;
            _signal.Recycle(this);
        }
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
