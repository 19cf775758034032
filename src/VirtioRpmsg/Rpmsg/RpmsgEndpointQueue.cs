using System.Buffers;
using System.Threading.Channels;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The receive queue of a queue-style endpoint: a bounded <see cref="Channel{T}"/> of copied messages
/// (payloads in pooled arrays).
/// <para>
/// Full policy: the dispatcher only ever calls <see cref="TryEnqueue"/> (TryWrite), never a waiting
/// write, so a full queue can never block it; the message that does not fit is dropped and the
/// caller counts it (the endpoint's <c>QueueDrops</c> and the device's <c>Dropped</c>). Older messages
/// are kept: a reader sees a prefix of what arrived, never a gap in the middle.
/// </para>
/// <para>
/// Close (destroy, or the device breaking or stopping) completes the channel: readers drain what is
/// queued, then see <see cref="IsClosed"/> and report why. Peek, size check and read happen under one
/// small lock so that a destination too small for the next message leaves it queued even with
/// concurrent readers.
/// </para>
/// </summary>
internal sealed class RpmsgEndpointQueue
{
    private readonly Channel<Message> _channel;
    private readonly object _readLock = new();

    private readonly record struct Message(uint Source, byte[] Buffer, int Length);

    internal RpmsgEndpointQueue(int capacity)
    {
        Capacity = capacity;
        _channel = Channel.CreateBounded<Message>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite only: "full" is a refusal, never a wait
            SingleWriter = true,                     // the rx ring's owner
            SingleReader = false,
        });
    }

    internal int Capacity { get; }

    /// <summary>True once closed and drained: nothing will ever be read again.</summary>
    internal bool IsClosed => _channel.Reader.Completion.IsCompleted;

    /// <summary>Copies and queues a message; false (nothing queued) when the queue is full or closed.</summary>
    internal bool TryEnqueue(uint source, ReadOnlySpan<byte> payload)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        if (_channel.Writer.TryWrite(new Message(source, buffer, payload.Length)))
            return true;
        ArrayPool<byte>.Shared.Return(buffer);
        return false;
    }

    /// <summary>
    /// Copies the next message into <paramref name="destination"/>; false when none is queued. A
    /// destination too small throws <see cref="ArgumentException"/> and leaves the message queued.
    /// </summary>
    internal bool TryDequeue(Span<byte> destination, out RpmsgReceiveResult result)
    {
        Message message;
        lock (_readLock)
        {
            if (!_channel.Reader.TryPeek(out message))
            {
                result = default;
                return false;
            }
            if (destination.Length < message.Length)
                throw new ArgumentException($"destination of {destination.Length} bytes is smaller than the next {message.Length}-byte message", nameof(destination));
            _channel.Reader.TryRead(out _);
        }
        message.Buffer.AsSpan(0, message.Length).CopyTo(destination);
        ArrayPool<byte>.Shared.Return(message.Buffer);
        result = new RpmsgReceiveResult(message.Source, message.Length);
        return true;
    }

    /// <summary>Completes when a message may be readable (true) or the queue is closed and drained (false).</summary>
    internal ValueTask<bool> WaitAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>
    /// Blocks up to <paramref name="milliseconds"/> (-1: no limit) until a message may be readable or the
    /// queue is closed; false on timeout. A bounded wait cancels the channel's waiter when it times out,
    /// so waits that time out leave nothing registered behind. Called once TryDequeue found nothing.
    /// </summary>
    internal bool Wait(int milliseconds, CancellationToken cancellationToken)
    {
        if (milliseconds < 0 && !cancellationToken.CanBeCanceled)
        {
            Block(_channel.Reader.WaitToReadAsync(CancellationToken.None));
            return true;
        }
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (milliseconds >= 0)
            bound.CancelAfter(milliseconds);
        try
        {
            var ready = _channel.Reader.WaitToReadAsync(bound.Token);
            Block(ready);
            return true;
        }
        catch (OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested(); // the caller's own token, not ours
            return false;
        }
    }

    // Consumes the ValueTask exactly once: in place when done (a cancellation surfaces here), else through a task.
    private static void Block(ValueTask<bool> ready)
    {
        if (ready.IsCompleted)
            ready.GetAwaiter().GetResult();
        else
            ready.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>No more messages; readers drain what is queued, then see <see cref="IsClosed"/>.</summary>
    internal void Close() => _channel.Writer.TryComplete();

    /// <summary>Returns the queued payloads to the pool (after close, when nobody will read them).</summary>
    internal void Drain()
    {
        lock (_readLock)
        {
            while (_channel.Reader.TryRead(out var message))
                ArrayPool<byte>.Shared.Return(message.Buffer);
        }
    }
}
