namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A queue-style endpoint as a byte <see cref="Stream"/> (like Linux's rpmsg char device): each
/// write is sent as one or more messages of at most <see cref="RpmsgEndpoint.MaxPayload"/> bytes to
/// the endpoint's remote address (or <paramref name="destination"/>); reads return message bytes in
/// order, a message larger than the read buffer continuing on the next read. A zero-length message
/// carries no bytes: a read skips it and waits for the next (a read returning 0 would mean end of
/// stream to every Stream consumer, <see cref="Stream.CopyToAsync(Stream)"/> included).
/// <para>
/// One read at a time, as for any Stream: a read started while another waits throws
/// <see cref="InvalidOperationException"/>. Dispose ends a read waiting for a message, and a write waiting for a tx
/// buffer, with <see cref="ObjectDisposedException"/> (as a disposed socket's NetworkStream ends them) and every
/// later read and write throws it; <see cref="CanRead"/> and <see cref="CanWrite"/> turn false. The endpoint is
/// not disposed (as <see cref="RpmsgDuplexPipe"/> leaves it): messages still queued stay for its next reader.
/// </para>
/// </summary>
public sealed partial class RpmsgStream(RpmsgEndpoint endpoint, uint destination = RpmsgAddress.Any) : Stream
{
    private readonly byte[] _pending = new byte[(endpoint ?? throw new ArgumentNullException(nameof(endpoint))).MaxPayload];
    private int _pendingStart;
    private int _pendingEnd;
    private RpmsgStreamRead? _read;   // the read that waits for a message (one at a time, as for any Stream)
    private RpmsgStreamWrite? _write; // the write that waits for tx buffers

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; } = endpoint;

    /// <summary>True until the stream is disposed.</summary>
    public override bool CanRead => !IsDisposed;
    /// <summary>True until the stream is disposed.</summary>
    public override bool CanWrite => !IsDisposed;
    /// <summary>Always false.</summary>
    public override bool CanSeek => false;
    /// <summary>Not supported: throws <see cref="NotSupportedException"/>.</summary>
    public override long Length => throw new NotSupportedException();
    /// <summary>Not supported: throws <see cref="NotSupportedException"/>.</summary>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Reads message bytes; see <see cref="Read(Span{byte})"/>.</summary>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count); // names the argument, as every Stream does
        return Read(buffer.AsSpan(offset, count));
    }

    /// <summary>
    /// Returns bytes of the current message, waiting without a time limit for the next one when none is left (skipping
    /// zero-length messages). 0 (the end of the stream) once the peer's name-service DESTROY removed the channel and
    /// everything it sent before has been read, as a socket's stream ends when its peer closes; but when the device's
    /// queue budget dropped some of it unread, <see cref="RpmsgMessagesDroppedException"/> (how many) instead. An empty
    /// <paramref name="buffer"/> (the zero-byte read) waits the same way until bytes are there, takes none and returns 0,
    /// as a <see cref="System.Net.Sockets.NetworkStream"/>'s does. Throws <see cref="ObjectDisposedException"/> once the
    /// stream is disposed, a wait included.
    /// </summary>
    public override int Read(Span<byte> buffer)
    {
        ThrowIfDisposed();
        if (_pendingStart == _pendingEnd)
        {
            BeginRead();
            try
            {
                // A zero-length message is no bytes: receive again, as 0 would end the stream.
                while (_pendingStart == _pendingEnd)
                {
                    var r = Endpoint.Receive(_pending, Timeout.InfiniteTimeSpan, DisposeToken);
                    _pendingStart = 0;
                    _pendingEnd = r.Length;
                }
            }
            catch (OperationCanceledException) when (IsDisposed)
            {
                throw DisposedError();
            }
            catch (ObjectDisposedException e) when (IsEndOfStream(e))
            {
                return 0;
            }
            finally
            {
                EndRead();
            }
        }
        return TakePending(buffer);
    }

    /// <summary>
    /// Like <see cref="Read(Span{byte})"/>, waiting asynchronously; nothing is allocated per read, even one that waits. A
    /// cancelled <paramref name="cancellationToken"/> cancels the read (its task is Canceled); failures fault it.
    /// </summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (IsDisposed || IsReading)
            return ValueTask.FromException<int>(IsDisposed ? DisposedError() : ReadPendingError());
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        if (_pendingStart != _pendingEnd)
            return new ValueTask<int>(TakePending(buffer.Span));
        if (!TryBeginRead())
            return ValueTask.FromException<int>(ReadPendingError()); // another read began on another thread meanwhile
        try
        {
            while (true)
            {
                var receive = ReceiveNext(cancellationToken);
                if (!receive.IsCompleted)
                    return (_read ??= new RpmsgStreamRead(this)).Start(receive, buffer, cancellationToken); // it ends the read
                if (Received(receive.GetAwaiter().GetResult(), buffer.Span, out int n))
                {
                    EndRead();
                    return new ValueTask<int>(n);
                }
                // A zero-length message is no bytes: receive again, as 0 would end the stream.
            }
        }
        catch (Exception e)
        {
            EndRead();
            if (IsEndOfStream(e))
                return new ValueTask<int>(0);
            // A read's failures fault its task, as an async method's would; the caller's cancellation cancels it.
            var failure = Failure(e, cancellationToken);
            return failure is OperationCanceledException && cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<int>(cancellationToken)
                : ValueTask.FromException<int>(failure);
        }
    }

    /// <summary>
    /// A message arrived in <c>_pending</c>: <paramref name="n"/> of its first bytes are copied out (none for a zero-byte
    /// read, which leaves them pending); false for a zero-length message (no bytes: receive again).
    /// </summary>
    internal bool Received(RpmsgReceiveResult r, Span<byte> buffer, out int n)
    {
        _pendingStart = 0;
        _pendingEnd = r.Length;
        n = TakePending(buffer);
        return r.Length != 0;
    }

    /// <summary>Like <see cref="Read(Span{byte})"/>, waiting asynchronously.</summary>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    private int TakePending(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _pendingEnd - _pendingStart);
        _pending.AsSpan(_pendingStart, n).CopyTo(buffer);
        _pendingStart += n;
        return n;
    }

    /// <summary>Sends the bytes; see <see cref="Write(ReadOnlySpan{byte})"/>.</summary>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(buffer.AsSpan(offset, count));
    }

    /// <summary>
    /// Sends <paramref name="buffer"/> as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/> bytes, each a blocking
    /// send; Dispose ends one waiting for a tx buffer with <see cref="ObjectDisposedException"/> (what was sent stays sent).
    /// </summary>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfDisposed();
        int mtu = Endpoint.MaxPayload;
        try
        {
            while (!buffer.IsEmpty)
            {
                var chunk = buffer[..Math.Min(mtu, buffer.Length)];
                if (destination == RpmsgAddress.Any)
                    Endpoint.Send(chunk, DisposeToken);
                else
                    Endpoint.SendTo(destination, chunk, DisposeToken);
                buffer = buffer[chunk.Length..];
            }
        }
        catch (OperationCanceledException) when (IsDisposed)
        {
            throw DisposedError();
        }
    }

    /// <summary>
    /// Like <see cref="Write(ReadOnlySpan{byte})"/>, waiting asynchronously for tx buffers; nothing is allocated per write,
    /// even one that waits. Dispose ends one that waits (faulted with <see cref="ObjectDisposedException"/>).
    /// </summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (IsDisposed)
            return ValueTask.FromException(DisposedError());
        if (_write is { IsPending: true })
            return ValueTask.FromException(WritePendingError()); // before anything of it is sent
        while (!buffer.IsEmpty)
        {
            var send = SendChunk(ref buffer, cancellationToken);
            if (!send.IsCompletedSuccessfully) // the last message's wait too: its end reports a dispose as one
                return (_write ??= new RpmsgStreamWrite(this)).Start(send, buffer, cancellationToken);
            send.GetAwaiter().GetResult(); // a pooled send goes back to its pool
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Starts sending the next message of <paramref name="buffer"/> and moves past it, ended by the caller's token or the dispose.</summary>
    internal ValueTask SendChunk(ref ReadOnlyMemory<byte> buffer, CancellationToken caller)
    {
        var chunk = buffer[..Math.Min(Endpoint.MaxPayload, buffer.Length)];
        buffer = buffer[chunk.Length..];
        var token = WriteToken(caller);
        return destination == RpmsgAddress.Any ? Endpoint.SendAsync(chunk, token) : Endpoint.SendToAsync(destination, chunk, token);
    }

    /// <summary>Like <see cref="Write(ReadOnlySpan{byte})"/>, waiting asynchronously for tx buffers.</summary>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Nothing to do: every write is sent before it returns.</summary>
    public override void Flush()
    {
        // Every write is sent at once; nothing is buffered.
    }

    /// <summary>Nothing to do (see <see cref="Flush"/>): a completed task, or a cancelled one for a cancelled token.</summary>
    /// <remarks>The base class would run <see cref="Flush"/> on the thread pool: a task allocated and a hop per call.</remarks>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <summary>Not supported: a message stream has no position.</summary>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported: a message stream has no length.</summary>
    public override void SetLength(long value) => throw new NotSupportedException();
}
