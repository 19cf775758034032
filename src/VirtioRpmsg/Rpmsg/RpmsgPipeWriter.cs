using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// <see cref="RpmsgDuplexPipe.Output"/>: buffers what is written and sends it when flushed, on the flushing
/// thread, as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/> bytes. No pump and no thread hop: a
/// flush that finds free tx buffers returns with everything sent, allocating nothing. Without free buffers it
/// waits asynchronously (the send timeout applies; a failed send faults the flush). Single writer, like every
/// <see cref="PipeWriter"/>: do not write while a flush is pending.
/// </summary>
internal sealed partial class RpmsgPipeWriter : PipeWriter, IValueTaskSource<FlushResult>
{
    private readonly RpmsgEndpoint _endpoint;
    private readonly uint _destination;
    private readonly CancellationToken _stop;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _buffer;
    private int _written; // bytes written (advanced) into _buffer
    private int _given;   // the end of the memory GetMemory/GetSpan gave since the last send (0: none; Advance commits only within it)
    private int _sent;    // of those, bytes already sent by a flush that had to wait
    // Complete (any thread, e.g. the pipe's dispose) against a flush: each stores its own flag and then looks at the
    // other's (_flushing: a flush runs, sending or waiting for buffers, and owns _buffer/_sent until it ends;
    // _completeCame), so at least one of them sees the other; whoever sees both finishes the Complete (once,
    // _completeTaken). A flush's end is a plain store and look (its start claims _flushing with one compare-exchange):
    // Complete, rare, pays a process-wide fence between its store and its look, as the pipe's reader's
    // (RpmsgPipeReader.Completion.cs).
    private int _flushing;
    private int _completeCame;
    private int _completeClaimed; // the first Complete (the one whose exception counts)
    private int _completeTaken;   // CompleteNow ran (or is running)
    private Exception? _completeError;
    private int _finished;        // Finish ran (the buffer went back to the pool once)
    private int _cancelRequested; // CancelPendingFlush with no flush waiting: the next flush ends cancelled
    private CancellationTokenSource? _waiting; // the flush waiting for buffers, for CancelPendingFlush
    private CancellationTokenSource? _flushCancel; // that flush's token, kept for the next wait until it is cancelled
    private ManualResetValueTaskSourceCore<FlushResult> _flush; // the waiting flush (one at a time, as for any PipeWriter)
    private CancellationToken _flushToken;
    private CancellationTokenRegistration _byCaller, _byStop;
    private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _send; // the send the flush waits for
    private int _sending; // its length
    private readonly Action _onSent;

    /// <param name="endpoint">Sends through it.</param>
    /// <param name="destination">Where to (<see cref="RpmsgAddress.Any"/>: the endpoint's remote address).</param>
    /// <param name="stop">Ends a wait for buffers of what is sent after <see cref="Complete"/> (the pipe's dispose).</param>
    internal RpmsgPipeWriter(RpmsgEndpoint endpoint, uint destination, CancellationToken stop)
    {
        _endpoint = endpoint;
        _destination = destination;
        _stop = stop;
        _buffer = ArrayPool<byte>.Shared.Rent(endpoint.MaxPayload);
        _onSent = OnSent;
    }

    /// <summary>Ends once the writer is completed and what was written before is sent (faulted when it could not be).</summary>
    internal Task Completion => _completion.Task;

    /// <inheritdoc />
    public override void Advance(int bytes)
    {
        if (bytes == 0 && IsCompleted)
            return; // nothing to commit: a Pipe's writer takes it after Complete too
        ThrowIfCompleted();
        ThrowIfFlushing(nameof(Advance));
        if ((uint)bytes > (uint)(_given - _written))
            ThrowPastBuffer(bytes, _given - _written); // also without GetMemory: the pooled array's old bytes are not ours to send
        _written += bytes;
    }

    // Out of line: Advance runs per message, and the wording would otherwise be built inside its frame.
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowPastBuffer(int bytes, int room) =>
        throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"advance of {bytes} bytes past the {room} bytes GetMemory/GetSpan gave");

    /// <inheritdoc />
    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        _given = _buffer.Length;
        return _buffer.AsMemory(_written);
    }

    /// <inheritdoc />
    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        _given = _buffer.Length;
        return _buffer.AsSpan(_written);
    }

    private void Reserve(int sizeHint)
    {
        ThrowIfCompleted();
        ThrowIfFlushing("GetMemory/GetSpan"); // it may give the buffer the flush sends from back to the pool
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        int need = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= need)
            return;
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(checked(_written + need), _buffer.Length * 2));
        _buffer.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }

    /// <summary>
    /// Writes and flushes, as <see cref="PipeWriter.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does. With
    /// nothing buffered and at most one message's worth (a request or a reply), sent straight from
    /// <paramref name="source"/>, without the copy into the buffer; buffered first only when it has to wait.
    /// </summary>
    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        // Anything else the general way: buffered bytes go first, a cancelled flush keeps the bytes buffered, and a
        // Complete or a flush under way is reported by the write.
        if (_written != 0 || source.IsEmpty || source.Length > _endpoint.MaxPayload || cancellationToken.IsCancellationRequested
            || Volatile.Read(ref _cancelRequested) != 0 || IsCompleted || Volatile.Read(ref _flushing) != 0)
            return base.WriteAsync(source, cancellationToken);
        if (!TryStartFlush())
            return base.WriteAsync(source, cancellationToken); // Complete came meanwhile: refused as a write after it
        var span = source.Span;
        try
        {
            if (_endpoint.IsDestroyedByPeer)
                return ReaderGone();
            if (_destination == RpmsgAddress.Any ? _endpoint.TrySend(span) : _endpoint.TrySendTo(_destination, span))
            {
                _given = 0;
                EndFlushing();
                return new ValueTask<FlushResult>(default(FlushResult));
            }
        }
        catch (Exception e)
        {
            if (WithdrawnByPeer(e))
                return ReaderGone();
            BufferOne(span); // as the write would have left them: a Complete after the failed flush still tries them
            EndFlushing();
            return ValueTask.FromException<FlushResult>(e);
        }
        BufferOne(span); // no tx buffer free now: the flush waits for one with the bytes buffered
        return FlushWaiting(cancellationToken);
    }

    // The flush owns the buffer (_flushing) and it is empty: it holds one message (the buffer is at least that large).
    private void BufferOne(ReadOnlySpan<byte> span)
    {
        span.CopyTo(_buffer);
        _written = span.Length;
        _given = 0;
    }

    /// <summary>
    /// Sends everything written since the last flush; completes synchronously when tx buffers are free. After
    /// <see cref="Complete"/> it sends nothing and returns a result neither cancelled nor completed, as a Pipe's writer does.
    /// Once the peer withdrew the channel the result is <see cref="FlushResult.IsCompleted"/> and what was written is
    /// dropped, as a Pipe's writer after its reader completed.
    /// </summary>
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<FlushResult>(cancellationToken);
        // After Complete, as a Pipe's writer: nothing more to send, and no exception (Complete took what was written).
        if (IsCompleted)
            return new ValueTask<FlushResult>(default(FlushResult));
        if (Volatile.Read(ref _cancelRequested) != 0 && Interlocked.Exchange(ref _cancelRequested, 0) != 0)
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false)); // the read first: no locked instruction per flush
        // From here the flush owns the buffer: a Complete meanwhile (the pipe's dispose, on another thread) leaves the
        // rest to it instead of sending the same bytes and returning the buffer under it.
        if (!TryStartFlush())
            return new ValueTask<FlushResult>(default(FlushResult)); // Complete came meanwhile: as above
        try
        {
            if (_endpoint.IsDestroyedByPeer)
                return ReaderGone();
            if (TrySendWritten())
            {
                EndFlushing();
                return new ValueTask<FlushResult>(default(FlushResult));
            }
        }
        catch (Exception e)
        {
            if (WithdrawnByPeer(e))
                return ReaderGone();
            EndFlushing();
            return ValueTask.FromException<FlushResult>(e); // a flush's failures fault its task, as the pipe's do
        }
        return FlushWaiting(cancellationToken);
    }

    // The peer withdrew the channel (its DESTROY): the reader at the other end is gone. A Pipe's writer reports that as
    // IsCompleted and drops what it was given; Input reads the same withdrawal as its end. The application's own
    // destroy, or a stopped device, still fault the flush.
    private bool WithdrawnByPeer(Exception e) => e is ObjectDisposedException && _endpoint.IsDestroyedByPeer;

    private ValueTask<FlushResult> ReaderGone()
    {
        DropWritten();
        EndFlushing();
        return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
    }

    private void DropWritten() => _sent = _written = _given = 0;

    // A flush begins: false, and no flush, when Complete came first. Claimed with a compare-exchange (the one locked
    // instruction left per flush): two flushes begun at once on two threads (a misuse) would send the same bytes and
    // let a Complete give the buffer back under one of them; the loser throws, as a flush pending already does.
    private bool TryStartFlush()
    {
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
            ThrowFlushing("FlushAsync");
        if (Volatile.Read(ref _completeCame) == 0)
            return true;
        // Complete came first, or saw this flush begin and left its job to it: done by this thread then (Completion
        // says when; Complete may have returned already).
        EndFlushing();
        return false;
    }

    // A flush ends: a Complete that came during it (or saw it begin) finishes the job now.
    private void EndFlushing()
    {
        Volatile.Write(ref _flushing, 0);
        if (SharedMemoryRegion.AcquirerNeedsFence)
            Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _completeCame) != 0)
            TakeComplete(); // Complete wrote _completeError before its flag
    }

    private void ThrowIfFlushing(string operation)
    {
        if (Volatile.Read(ref _flushing) != 0)
            ThrowFlushing(operation);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowFlushing(string operation) => throw new InvalidOperationException(
        $"Output.{operation}: a flush is still pending; write or flush again only once it completed (a PipeWriter allows one flush at a time, and no writes during it)");

    /// <summary>Sends messages while tx buffers are free; true when everything written is sent (and the buffer empty again).</summary>
    private bool TrySendWritten()
    {
        int mtu = _endpoint.MaxPayload;
        while (_sent < _written)
        {
            var chunk = _buffer.AsSpan(_sent, Math.Min(mtu, _written - _sent));
            if (!(_destination == RpmsgAddress.Any ? _endpoint.TrySend(chunk) : _endpoint.TrySendTo(_destination, chunk)))
                return false;
            _sent += chunk.Length;
        }
        _sent = _written = _given = 0;
        return true;
    }

    // The flush that waits for tx buffers, without an async method (a debug build allocates its state machine per
    // call) and without a linked token source per wait: one kept source that the caller's token and _stop cancel
    // through registrations (which reuse their sources' callback nodes). The pipe's dispose (_stop) ends the wait
    // too: its Complete then sends or drops the rest after this flush.
    private ValueTask<FlushResult> FlushWaiting(CancellationToken cancellationToken)
    {
        if (_flushCancel is { IsCancellationRequested: true })
            _flushCancel = null; // cancelled by a CancelPendingFlush that raced the end of the last wait
        var waiting = _flushCancel ??= new CancellationTokenSource();
        _flush.Reset();
        short version = _flush.Version;
        _flushToken = cancellationToken;
        _byCaller = cancellationToken.UnsafeRegister(static w => ((CancellationTokenSource)w!).Cancel(), waiting);
        _byStop = _stop.UnsafeRegister(static w => ((CancellationTokenSource)w!).Cancel(), waiting);
        Volatile.Write(ref _waiting, waiting);
        if (Interlocked.Exchange(ref _cancelRequested, 0) != 0)
            EndFlush(new FlushResult(isCanceled: true, isCompleted: false), null);
        else
            SendWaiting();
        return new ValueTask<FlushResult>(this, version);
    }

    /// <summary>Sends the rest, each send that has to wait continuing here on the thread pool when it is done.</summary>
    private void SendWaiting()
    {
        var waiting = _waiting!;
        try
        {
            int mtu = _endpoint.MaxPayload;
            while (!TrySendWritten())
            {
                var chunk = _buffer.AsMemory(_sent, Math.Min(mtu, _written - _sent));
                var send = _destination == RpmsgAddress.Any ? _endpoint.SendAsync(chunk, waiting.Token) : _endpoint.SendToAsync(_destination, chunk, waiting.Token);
                _sending = chunk.Length;
                if (!send.IsCompleted)
                {
                    _send = send.ConfigureAwait(false).GetAwaiter();
                    _send.UnsafeOnCompleted(_onSent);
                    return;
                }
                send.GetAwaiter().GetResult();
                _sent += chunk.Length;
            }
        }
        catch (Exception e)
        {
            EndFlushFailed(e, waiting);
            return;
        }
        EndFlush(default, null);
    }

    private void OnSent()
    {
        try
        {
            _send.GetResult();
            _sent += _sending;
        }
        catch (Exception e)
        {
            EndFlushFailed(e, _waiting!);
            return;
        }
        SendWaiting();
    }

    /// <summary>Ends the flush after a send failed: cancelled by CancelPendingFlush (what was not sent stays buffered for the next flush), or with the error.</summary>
    private void EndFlushFailed(Exception e, CancellationTokenSource waiting)
    {
        if (e is OperationCanceledException && !_flushToken.IsCancellationRequested && waiting.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _cancelRequested, 0);
            EndFlush(new FlushResult(isCanceled: true, isCompleted: false), null);
            return;
        }
        if (WithdrawnByPeer(e))
        {
            DropWritten();
            EndFlush(new FlushResult(isCanceled: false, isCompleted: true), null);
            return;
        }
        if (e is OperationCanceledException && _flushToken.IsCancellationRequested) // the send saw the kept source: report the caller's token
            e = new OperationCanceledException("Output.FlushAsync was cancelled by its token; what was not sent stays buffered", e, _flushToken);
        EndFlush(default, e);
    }

    private void EndFlush(FlushResult result, Exception? error)
    {
        var waiting = _waiting!;
        Volatile.Write(ref _waiting, null);
        _byCaller.Dispose(); // waits for a running callback: nothing cancels the kept source after this
        _byStop.Dispose();
        _byCaller = _byStop = default;
        _flushToken = default;
        if (waiting.IsCancellationRequested)
            _flushCancel = null; // a cancelled source cannot be reused; CancelPendingFlush may still be holding it
        EndFlushing();
        if (error is null)
            _flush.SetResult(result);
        else
            _flush.SetException(error);
    }

    /// <inheritdoc />
    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _flush.GetResult(token);

    /// <inheritdoc />
    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _flush.GetStatus(token);

    /// <inheritdoc />
    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _flush.OnCompleted(continuation, state, token, flags);

    /// <summary>Ends a flush waiting for buffers with <see cref="FlushResult.IsCanceled"/> (or the next flush, if none waits).</summary>
    public override void CancelPendingFlush()
    {
        Interlocked.Exchange(ref _cancelRequested, 1); // a full fence before the read of _waiting (Dekker with the flush)
        try
        {
            Volatile.Read(ref _waiting)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That flush ended meanwhile: the request stays up for the next one.
        }
    }
}
