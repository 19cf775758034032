using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// One parked async wait for a tx buffer (<see cref="RpmsgTxSignal.WaitAsync"/>), pooled by the signal so that a
/// sender that waits allocates nothing per wait. Completed by a signal, by its own timeout (a timer it keeps and
/// re-arms for every wait) or by cancellation; whoever unlists it (under the signal's lock) completes it, and the
/// awaiter's <see cref="GetResult"/> returns it to the pool.
/// </summary>
internal sealed class RpmsgTxWaiter : IValueTaskSource
{
    private readonly RpmsgTxSignal _signal;
    // Continuations never run on the completing thread: that is the dispatcher (or a timer, or a cancelling caller).
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private Timer? _timer;
    private long _due; // Stopwatch timestamp of this wait's timeout (long.MaxValue: none), under the signal's lock
    private int _milliseconds;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;

    internal RpmsgTxWaiter(RpmsgTxSignal signal) => _signal = signal;

    /// <summary>The next waiter in the signal's parked list or free list (under its lock).</summary>
    internal RpmsgTxWaiter? Next;

    /// <summary>Resets for a new wait (under the signal's lock, as it is listed); returns the wait's version.</summary>
    internal short Arm(int milliseconds, CancellationToken token)
    {
        _core.Reset();
        _milliseconds = milliseconds;
        _due = milliseconds < 0 ? long.MaxValue : Stopwatch.GetTimestamp() + milliseconds * Stopwatch.Frequency / 1000;
        _token = token;
        return _core.Version;
    }

    /// <summary>Starts the timeout and the cancellation (outside the lock; before the awaiter has the wait, so before <see cref="GetResult"/>).</summary>
    internal void Register()
    {
        if (_milliseconds >= 0)
        {
            _timer ??= new Timer(static w => ((RpmsgTxWaiter)w!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
            _timer.Change(_milliseconds, Timeout.Infinite);
        }
        if (_token.CanBeCanceled)
            _registration = _token.UnsafeRegister(static w => ((RpmsgTxWaiter)w!).OnCancelled(), this);
    }

    /// <summary>Completes the wait: normally (a signal or the timeout: the sender re-tries) or with <paramref name="error"/>.</summary>
    internal void Complete(Exception? error)
    {
        if (error is null)
            _core.SetResult(true);
        else
            _core.SetException(error);
    }

    private void OnTimer()
    {
        bool timedOut;
        lock (_signal.Lock)
        {
            // A timer callback of an earlier wait of this pooled waiter can come late: it only ends a wait that is due.
            long left = _due - Stopwatch.GetTimestamp();
            if (left > 0)
            {
                if (_due != long.MaxValue)
                    _timer!.Change((int)Math.Min(int.MaxValue - 1, left * 1000 / Stopwatch.Frequency + 1), Timeout.Infinite);
                return;
            }
            timedOut = _signal.TryUnlist(this);
        }
        if (timedOut)
            Complete(null);
    }

    private void OnCancelled()
    {
        if (_signal.TryUnlist(this))
            Complete(new OperationCanceledException(_token));
    }

    /// <inheritdoc />
    public void GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            // Waits for a running cancellation callback, so nothing but a late timer (see OnTimer) touches this waiter once pooled.
            _registration.Dispose();
            _registration = default;
            _token = default;
            if (_milliseconds >= 0)
                _timer!.Change(Timeout.Infinite, Timeout.Infinite);
            _signal.Recycle(this);
        }
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
