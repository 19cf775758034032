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

    /// <summary>The endpoint underneath.</summary>
    public RpmsgEndpoint Endpoint { get; } = endpoint;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

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

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
            return 0;
        if (_pendingStart == _pendingEnd)
        {
            var r = await Endpoint.ReceiveAsync(_pending, cancellationToken).ConfigureAwait(false);
            _pendingStart = 0;
            _pendingEnd = r.Length;
        }
        return TakePending(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int TakePending(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _pendingEnd - _pendingStart);
        _pending.AsSpan(_pendingStart, n).CopyTo(buffer);
        _pendingStart += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

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

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int mtu = Endpoint.MaxPayload;
        while (!buffer.IsEmpty)
        {
            var chunk = buffer[..Math.Min(mtu, buffer.Length)];
            if (destination == RpmsgAddress.Any)
                await Endpoint.SendAsync(chunk, cancellationToken).ConfigureAwait(false);
            else
                await Endpoint.SendToAsync(destination, chunk, cancellationToken).ConfigureAwait(false);
            buffer = buffer[chunk.Length..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        // Every write is sent at once; nothing is buffered.
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
