using System.Threading.Tasks.Sources;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// One parked <c>ReceiveAsync</c> of a <see cref="RpmsgEndpointQueue"/>, reused (pooled by the queue) so that an
/// asynchronous receive allocates nothing per message, in any build. The writer that finds it listed copies the
/// next message straight into its destination (under the queue's lock) and completes it with the result, so the
/// continuation needs no second look at the queue. Whoever unlists it (writer, close or cancellation, under the
/// queue's lock) completes it; the reader's first <see cref="GetResult"/> returns it to the pool (only that one:
/// <see cref="RpmsgPooledWait"/>).
/// </summary>
internal sealed class RpmsgQueueWaiter : IValueTaskSource<RpmsgReceiveResult>, IThreadPoolWorkItem, IRpmsgListedWaiter<RpmsgQueueWaiter>
{
    private readonly RpmsgEndpointQueue _queue;
    // Continuations never run on the completing thread (the dispatcher, or a cancelling caller): Complete queues this
    // waiter itself to the thread pool, which completes it there and runs the continuation inline. Not the core's own
    // RunContinuationsAsynchronously: for a continuation other than an async method's (RpmsgStream's read, say) it
    // allocates a work item per completion.
    private ManualResetValueTaskSourceCore<RpmsgReceiveResult> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private RpmsgPooledWait _wait;

    internal RpmsgQueueWaiter(RpmsgEndpointQueue queue) => _queue = queue;

    /// <summary>The next waiter in the queue's waiter list, completion list or free list (under the queue's lock).</summary>
    internal RpmsgQueueWaiter? Next;

    ref RpmsgQueueWaiter? IRpmsgListedWaiter<RpmsgQueueWaiter>.NextWaiter => ref Next;

    /// <summary>Where the message goes.</summary>
    internal Memory<byte> Destination { get; private set; }

    /// <summary>Why a closed queue has nothing more (the endpoint's reason).</summary>
    internal Func<Exception>? Closed { get; private set; }

    /// <summary>Set by the queue when it unlists this waiter: the message received, or the failure.</summary>
    internal RpmsgReceiveResult Result;

    /// <inheritdoc cref="Result"/>
    internal Exception? Error;

    /// <summary>Resets for a new wait (under the queue's lock, before it is listed).</summary>
    internal void Arm(Memory<byte> destination, Func<Exception> closed, CancellationToken token)
    {
        _core.Reset();
        _wait.Arm(_core.Version);
        Destination = destination;
        Closed = closed;
        _token = token;
        Result = default;
        Error = null;
    }

    /// <summary>Registers the cancellation (outside the queue's lock: a token cancelled already runs the callback here) and returns the wait.</summary>
    internal ValueTask<RpmsgReceiveResult> Start()
    {
        short version = _core.Version;
        if (_token.CanBeCanceled)
            _registration = _token.UnsafeRegister(static w => ((RpmsgQueueWaiter)w!).OnCancelled(), this);
        return new ValueTask<RpmsgReceiveResult>(this, version);
    }

    /// <summary>
    /// Completes with <see cref="Result"/> or <see cref="Error"/> on the thread pool (called outside the queue's lock),
    /// or, when the async doorbell holder's Poll completes it, on the holder's thread after that Poll (<see cref="RpmsgDoorbellAsyncHolder"/>).
    /// </summary>
    internal void Complete()
    {
        if (!RpmsgDoorbellAsyncHolder.TryDefer(this))
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute() => CompleteInline();

    /// <summary>Completes now, running the continuation on this thread (a pool thread: the pool's or the holder's).</summary>
    internal void CompleteInline()
    {
        if (Error is { } error)
            _core.SetException(error);
        else
            _core.SetResult(Result);
    }

    private void OnCancelled()
    {
        if (_queue.TryUnlist(this))
        {
            Error = new OperationCanceledException(_token);
            Complete();
        }
    }

    /// <inheritdoc />
    public RpmsgReceiveResult GetResult(short token)
    {
        // A stale or repeated call throws here, before the finally could pool this waiter a second time.
        _wait.End(token, _core.GetStatus(token), "RpmsgEndpoint.ReceiveAsync");
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Waits for a running cancellation callback, so nothing touches this waiter once it is pooled again.
            _registration.Dispose();
            _registration = default;
            _token = default;
            Destination = default;
            Closed = null;
            Error = null;
            _queue.Recycle(this);
        }
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
