namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A queue-style endpoint as a byte <see cref="Stream"/> (like Linux's rpmsg char device): each
/// write is sent as one or more messages of at most <see cref="RpmsgEndpoint.MaxPayload"/> bytes to
/// the endpoint's remote address (or <paramref name="destination"/>); reads return message bytes in
/// order, a message larger than the read buffer continuing on the next read.
/// </summary>
public sealed class RpmsgStream(RpmsgEndpoint endpoint, uint destination = RpmsgAddress.Any) : Stream
{
    private readonly byte[] _pending = new byte[endpoint.MaxPayload];
    private int _pendingStart;
    private int _pendingEnd;
    private RpmsgStreamRead? _read;   // the read that waits for a message (one at a time, as for any Stream)
    private RpmsgStreamWrite? _write; // the write that waits for tx buffers

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; } = endpoint;

    /// <summary>Always true.</summary>
    public override bool CanRead => true;
    /// <summary>Always true.</summary>
    public override bool CanWrite => true;
    /// <summary>Always false.</summary>
    public override bool CanSeek => false;
    /// <summary>Not supported: throws <see cref="NotSupportedException"/>.</summary>
    public override long Length => throw new NotSupportedException();
    /// <summary>Not supported: throws <see cref="NotSupportedException"/>.</summary>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Reads message bytes; see <see cref="Read(Span{byte})"/>.</summary>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Returns bytes of the current message, waiting without a time limit for the next one when none is left; never 0 unless <paramref name="buffer"/> is empty.</summary>
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
            return 0;
        if (_pendingStart == _pendingEnd)
        {
            var r = Endpoint.Receive(_pending, Timeout.InfiniteTimeSpan);
            _pendingStart = 0;
            _pendingEnd = r.Length;
        }
        return TakePending(buffer);
    }

    /// <summary>Like <see cref="Read(Span{byte})"/>, waiting asynchronously; nothing is allocated per read, even one that waits.</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
            return new ValueTask<int>(0);
        if (_pendingStart != _pendingEnd)
            return new ValueTask<int>(TakePending(buffer.Span));
        var receive = Endpoint.ReceiveAsync(_pending, cancellationToken);
        if (!receive.IsCompleted)
            return (_read ??= new RpmsgStreamRead(this)).Start(receive, buffer);
        try
        {
            return new ValueTask<int>(Received(receive.GetAwaiter().GetResult(), buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e); // a read's failures fault its task, as an async method's would
        }
    }

    /// <summary>A message arrived in <c>_pending</c>: returns the first bytes of it.</summary>
    internal int Received(RpmsgReceiveResult r, Span<byte> buffer)
    {
        _pendingStart = 0;
        _pendingEnd = r.Length;
        return TakePending(buffer);
    }

    /// <summary>Like <see cref="Read(Span{byte})"/>, waiting asynchronously.</summary>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int TakePending(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _pendingEnd - _pendingStart);
        _pending.AsSpan(_pendingStart, n).CopyTo(buffer);
        _pendingStart += n;
        return n;
    }

    /// <summary>Sends the bytes; see <see cref="Write(ReadOnlySpan{byte})"/>.</summary>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Sends <paramref name="buffer"/> as messages of at most <see cref="RpmsgEndpoint.MaxPayload"/> bytes, each a blocking send.</summary>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        int mtu = Endpoint.MaxPayload;
        while (!buffer.IsEmpty)
        {
            var chunk = buffer[..Math.Min(mtu, buffer.Length)];
            if (destination == RpmsgAddress.Any)
                Endpoint.Send(chunk);
            else
                Endpoint.SendTo(destination, chunk);
            buffer = buffer[chunk.Length..];
        }
    }

    /// <summary>Like <see cref="Write(ReadOnlySpan{byte})"/>, waiting asynchronously for tx buffers; nothing is allocated per write, even one that waits.</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var send = SendChunk(ref buffer, cancellationToken);
            if (!send.IsCompletedSuccessfully)
                return buffer.IsEmpty ? send : (_write ??= new RpmsgStreamWrite(this)).Start(send, buffer, cancellationToken);
            send.GetAwaiter().GetResult(); // a pooled send goes back to its pool
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Starts sending the next message of <paramref name="buffer"/> and moves past it.</summary>
    internal ValueTask SendChunk(ref ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        var chunk = buffer[..Math.Min(Endpoint.MaxPayload, buffer.Length)];
        buffer = buffer[chunk.Length..];
        return destination == RpmsgAddress.Any ? Endpoint.SendAsync(chunk, cancellationToken) : Endpoint.SendToAsync(destination, chunk, cancellationToken);
    }

    /// <summary>Like <see cref="Write(ReadOnlySpan{byte})"/>, waiting asynchronously for tx buffers.</summary>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Nothing to do: every write is sent before it returns.</summary>
    public override void Flush()
    {
        // Every write is sent at once; nothing is buffered.
    }

    /// <summary>Not supported: a message stream has no position.</summary>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported: a message stream has no length.</summary>
    public override void SetLength(long value) => throw new NotSupportedException();
}
