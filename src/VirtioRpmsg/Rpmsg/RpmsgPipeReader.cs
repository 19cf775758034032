using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// <see cref="RpmsgDuplexPipe.Input"/>: a <see cref="PipeReader"/> that receives on demand, as a stream's pipe reader
/// reads its stream. A read that finds everything examined receives the next message into its buffer (then what else is
/// queued, without waiting) through the endpoint's <see cref="RpmsgEndpoint.ReceiveAsync"/>, on the reading thread:
/// it spins and polls the ring there, and parks as that does. There is no pump task, no thread hop and no second buffer;
/// messages the reader has not asked for wait in the endpoint's queue, under its budget. A read that parked completes on the thread that completes the receive (a thread-pool thread, or under
/// <see cref="RpmsgWaitStrategy.Interrupt"/> the one waiting on the doorbell), never on the dispatcher, and runs the
/// reader's continuation there.
/// <para>The end of input: a dispose of the pipe or a destroyed endpoint completes it (IsCompleted, after what was
/// received); a stopped or broken device faults it with <see cref="RpmsgDeviceUnavailableException"/>, and a withdrawn
/// channel whose unread messages the queue budget dropped with <see cref="RpmsgMessagesDroppedException"/>.</para>
/// </summary>
internal sealed partial class RpmsgPipeReader : PipeReader, IValueTaskSource<ReadResult>
{
    private readonly RpmsgEndpoint _endpoint;
    private readonly RpmsgPipeSegments _segments;
    private readonly Action _onReceived;
    private readonly Lock _sync = new();
    private ManualResetValueTaskSourceCore<ReadResult> _core;
    private ConfiguredValueTaskAwaitable<RpmsgReceiveResult>.ConfiguredValueTaskAwaiter _receive;
    private CancellationToken _readToken;
    private CancellationTokenSource _cancel = new(); // CancelPendingRead and the pipe's dispose; replaced once used
    private CancellationTokenSource? _linked;         // _cancel linked with the caller's token, kept while the token is the same
    private CancellationToken _linkedWith;
    private volatile bool _cancelRequested;
    private volatile bool _stopped;
    private int _reading; // 1 from a read's start (ReadAsync, TryRead) to its end, parked or not; see StartRead
    private volatile bool _completed;
    private int _released;
    private bool _examinedAll = true; // a read must receive before it returns anything
    private bool _handedOut;          // a read returned a buffer that AdvanceTo has not settled yet
    private bool _ended;              // the input's end was seen: completed quietly, or failed with _failure
    private Exception? _failure;

    internal RpmsgPipeReader(RpmsgEndpoint endpoint)
    {
        _endpoint = endpoint;
        _segments = new RpmsgPipeSegments(endpoint.MaxPayload);
        _onReceived = OnReceived;
    }

    /// <inheritdoc />
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        StartRead();
        if (cancellationToken.IsCancellationRequested)
        {
            var refused = EndRead(null);
            return refused is null
                ? ValueTask.FromCanceled<ReadResult>(cancellationToken) // first, bytes held or not, as a Pipe's read
                : ValueTask.FromException<ReadResult>(refused);
        }
        ReadResult result;
        Exception? error;
        try
        {
            bool ready = TryResultWithoutWaiting(out result);
            error = null;
            if (ready)
                result = Handed(result);
            else
            {
                _core.Reset(); // before the receive: a parked one may complete on another thread at once
                short version = _core.Version;
                if (!Pump(cancellationToken, out result, out error))
                    return new ValueTask<ReadResult>(this, version); // parked: completed by OnReceived (this object is made once per reader)
            }
        }
        catch (Exception e)
        {
            result = default;
            error = e; // the input's failure faults the read, as a Pipe's
        }
        error = EndRead(error);
        return error is null ? new ValueTask<ReadResult>(result) : ValueTask.FromException<ReadResult>(error);
    }

    /// <inheritdoc />
    public override bool TryRead(out ReadResult result)
    {
        StartRead();
        bool got;
        Exception? error = null;
        try
        {
            got = TryResultWithoutWaiting(out result);
            if (!got)
            {
                TakeQueued(mayGrow: true); // also sees the end of input, which the next line reports as ReadAsync does
                got = TryResultWithoutWaiting(out result);
            }
        }
        catch (Exception e)
        {
            (got, result, error) = (false, default, e);
        }
        if (EndRead(error, nameof(TryRead)) is { } failed)
            ExceptionDispatchInfo.Throw(failed);
        if (got)
            result = Handed(result);
        return got;
    }

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        ThrowIfCompleted();
        if (!_handedOut)
            throw new InvalidOperationException("Input.AdvanceTo: no read returned a buffer to advance through (call ReadAsync or TryRead first)");
        StartAdvance(); // it gives arrays back to the pool: not while Complete, on another thread, gives them all back
        Exception? error = null;
        try
        {
            if (!_segments.Contains(consumed))
                throw new ArgumentOutOfRangeException(nameof(consumed), "Input.AdvanceTo: 'consumed' is not a position in the buffer the last read returned");
            // Usually the same position (AdvanceTo(consumed)): checked once.
            if (!examined.Equals(consumed))
            {
                if (!_segments.Contains(examined))
                    throw new ArgumentOutOfRangeException(nameof(examined), "Input.AdvanceTo: 'examined' is not a position in the buffer the last read returned");
                if (RpmsgPipeSegments.Offset(examined) < RpmsgPipeSegments.Offset(consumed))
                    throw new InvalidOperationException("Input.AdvanceTo: 'examined' is before 'consumed' (it must be at or after it, as for a Pipe)");
            }
            _handedOut = false;
            _examinedAll = _segments.IsEnd(examined);
            _segments.Consume(consumed);
            if (_segments.IsEmpty)
                _examinedAll = true;
        }
        catch (Exception e)
        {
            error = e;
        }
        if (EndRead(error, nameof(AdvanceTo)) is { } failed)
            ExceptionDispatchInfo.Throw(failed);
    }

    /// <inheritdoc />
    public override void CancelPendingRead()
    {
        CancellationTokenSource cancel;
        lock (_sync)
        {
            _cancelRequested = true;
            cancel = _cancel;
        }
        cancel.Cancel(); // outside the lock: the cancellation callbacks run here (the parked read completes on the pool)
    }

    // What a read returns without receiving: a pending cancel, unexamined bytes, or the end of input.
    private bool TryResultWithoutWaiting(out ReadResult result)
    {
        if (_cancelRequested && TakeCancelRequest())
        {
            result = new ReadResult(_segments.Readable, isCanceled: true, isCompleted: false);
            return true;
        }
        if (!_examinedAll)
        {
            result = new ReadResult(_segments.Readable, isCanceled: false, isCompleted: _ended && _failure is null);
            return true;
        }
        if (_stopped)
            _ended = true;
        if (_ended)
        {
            if (_failure is not null)
                throw _failure;
            result = new ReadResult(_segments.Readable, isCanceled: false, isCompleted: true);
            return true;
        }
        result = default;
        return false;
    }

    private ReadResult Handed(ReadResult result)
    {
        _handedOut = true;
        return result;
    }

    private bool TakeCancelRequest()
    {
        lock (_sync)
        {
            if (!_cancelRequested)
                return false;
            _cancelRequested = false;
            if (!_stopped)
            {
                // A fresh source: the used one may still be cancelled late by the request that set the flag.
                _cancel = new CancellationTokenSource();
                _linked?.Dispose();
                _linked = null;
            }
            return true;
        }
    }

    // One token for the receive: the caller's and this reader's own cancellation (CancelPendingRead, dispose), linked
    // once per caller token, not per read.
    private CancellationToken ReceiveToken(CancellationToken caller)
    {
        if (!caller.CanBeCanceled)
            return _cancel.Token;
        if (_linked is null || _linkedWith != caller)
        {
            _linked?.Dispose();
            _linked = CancellationTokenSource.CreateLinkedTokenSource(caller, _cancel.Token);
            _linkedWith = caller;
        }
        return _linked.Token;
    }

    // The read's receives, from a fresh one: true when the read is done (its result or failure), false when a receive
    // parked, to go on in OnReceived. A zero-length message is no bytes: the read receives again, as an empty flush
    // wakes no Pipe reader (an empty result neither completed nor cancelled breaks readers such as AsStream's).
    private bool Pump(CancellationToken caller, out ReadResult result, out Exception? error)
    {
        while (true)
        {
            var receive = _endpoint.ReceiveAsync(_segments.WritableFor(_endpoint.MaxPayload), ReceiveToken(caller));
            if (receive.IsCompletedSuccessfully)
            {
                // The usual case (queued, or the reader's own poll handed it over): no awaiter kept.
                if (Ended(receive.Result.Length, null, caller, out result, out error))
                    return true;
                continue;
            }
            _receive = receive.ConfigureAwait(false).GetAwaiter();
            if (!_receive.IsCompleted)
            {
                _readToken = caller;
                _receive.UnsafeOnCompleted(_onReceived);
                result = default;
                error = null;
                return false;
            }
            if (Completed(caller, out result, out error))
                return true;
        }
    }

    // The receive in _receive ended: true with the read's result or failure; false for a zero-length message.
    private bool Completed(CancellationToken caller, out ReadResult result, out Exception? error)
    {
        int length = 0;
        Exception? failure = null;
        try
        {
            length = _receive.GetResult().Length;
        }
        catch (Exception e)
        {
            failure = e;
        }
        _receive = default;
        return Ended(length, failure, caller, out result, out error);
    }

    // A receive ended with length bytes or failure: true with the read's result or failure; false for a zero-length message.
    private bool Ended(int length, Exception? failure, CancellationToken caller, out ReadResult result, out Exception? error)
    {
        if (failure is null && length == 0 && !_stopped)
        {
            result = default;
            error = null;
            return false;
        }
        if (failure is null)
        {
            try
            {
                error = Received(length, out result);
                return true;
            }
            catch (Exception e)
            {
                failure = e;
            }
        }
        error = Failed(failure, caller, out result);
        return true;
    }

    // The receive ended with a message: it (and what else is queued) becomes readable.
    private Exception? Received(int length, out ReadResult result)
    {
        _segments.Commit(length);
        if (length > 0)
            _examinedAll = false;
        TakeQueued(mayGrow: false);
        return Result(out result);
    }

    // The receive failed: the caller's token cancels the read (an exception, as a Pipe's read); CancelPendingRead makes
    // it a cancelled result; a dispose, a destroyed endpoint or a stopped device end the input.
    private Exception? Failed(Exception e, CancellationToken caller, out ReadResult result)
    {
        result = default;
        if (e is OperationCanceledException && !_stopped)
        {
            if (caller.IsCancellationRequested)
                return new OperationCanceledException("Input.ReadAsync was cancelled by its token", e, caller);
            TakeCancelRequest();
            result = Handed(new ReadResult(_segments.Readable, isCanceled: true, isCompleted: false));
            return null;
        }
        _ended = true;
        _failure = EndOf(e);
        _linked?.Dispose(); // no more receives: leave the caller's token
        _linked = null;
        return Result(out result);
    }

    private Exception? Result(out ReadResult result)
    {
        try
        {
            if (!TryResultWithoutWaiting(out result))
                throw new InvalidOperationException("Input: a finished receive left nothing to return"); // not reached
        }
        catch (Exception e)
        {
            result = default;
            return e;
        }
        result = Handed(result);
        return null;
    }

    private void OnReceived()
    {
        var caller = _readToken;
        if (!Completed(caller, out var result, out var error) && !Pump(caller, out result, out error))
            return; // a zero-length message, and the next receive parked: it comes back here
        _readToken = default;
        error = EndRead(error); // a Complete while the read was parked fails it
        if (error is null)
            _core.SetResult(result);
        else
            _core.SetException(error);
    }

    // What is queued already, appended without waiting, while the last array has room for a whole message (after a
    // receive, only in the room left: an array appended for nothing queued would be one more segment per read). Bytes
    // taken are readable; the endpoint's end seen here ends the input after them.
    private bool TakeQueued(bool mayGrow)
    {
        bool any = false;
        try
        {
            // After a receive, a look at the queue first: usually nothing more came, and a TryReceive that finds
            // nothing costs a call with its checks on every read. A closed queue is ready too (its end is seen here).
            while (!_stopped && (mayGrow || (_endpoint.ReceiveQueue?.Ready() != false && _segments.HasRoomFor(_endpoint.MaxPayload))))
            {
                mayGrow = false;
                var room = _segments.WritableFor(_endpoint.MaxPayload);
                if (!_endpoint.TryReceive(room.Span, TimeSpan.Zero, out var more))
                    break;
                _segments.Commit(more.Length);
                any |= more.Length > 0;
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or RpmsgDeviceUnavailableException or RpmsgMessagesDroppedException)
        {
            _ended = true;
            _failure = EndOf(e);
        }
        if (any)
            _examinedAll = false;
        return any;
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
