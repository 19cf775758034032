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
/// concurrent readers. Blocking readers sleep on that lock and the writer pulses it only when one is
/// asleep (a Dekker pair on <c>_sleepers</c>, so the dispatcher takes no lock of ours per message), so a
/// blocking receive allocates nothing; async readers use the channel's own waiters.
/// </para>
/// </summary>
internal sealed class RpmsgEndpointQueue
{
    private readonly Channel<Message> _channel;
    private readonly object _readLock = new();
    private int _sleepers; // blocking readers asleep (or about to sleep) on _readLock

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
        if (!_channel.Writer.TryWrite(new Message(source, buffer, payload.Length)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return false;
        }
        // Store (the message) then load (_sleepers), against the reader's store (_sleepers++) then load
        // (its re-check): with a full fence on both sides one of them sees the other. A reader that
        // counted itself holds the lock until Monitor.Wait releases it, so the pulse cannot come early.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_readLock)
                Monitor.Pulse(_readLock);
        }
        return true;
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
    /// queue is closed; false on timeout. Called once TryDequeue found nothing. It spins briefly, then
    /// sleeps on the readers' lock (woken by the writer's pulse), so it allocates nothing: the channel's
    /// own waiters are for <see cref="WaitAsync"/>.
    /// </summary>
    internal bool Wait(int milliseconds, CancellationToken cancellationToken)
    {
        var spin = new SpinWait();
        while (!spin.NextSpinWillYield)
        {
            if (Ready())
                return true;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        cancellationToken.ThrowIfCancellationRequested();
        // Disposed after the lock is released: a running wake-up callback needs the lock.
        using (cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static q => ((RpmsgEndpointQueue)q!).WakeAll(), this) : default)
        {
            lock (_readLock)
            {
                Interlocked.Increment(ref _sleepers); // full fence before the re-check below
                bool woken;
                try
                {
                    if (Ready())
                        return true;
                    woken = Monitor.Wait(_readLock, milliseconds);
                }
                finally
                {
                    Interlocked.Decrement(ref _sleepers);
                }
                cancellationToken.ThrowIfCancellationRequested();
                return woken || Ready();
            }
        }
    }

    private bool Ready() => _channel.Reader.TryPeek(out _) || IsClosed;

    private void WakeAll()
    {
        lock (_readLock)
            Monitor.PulseAll(_readLock);
    }

    /// <summary>No more messages; readers drain what is queued, then see <see cref="IsClosed"/>.</summary>
    internal void Close()
    {
        lock (_readLock)
        {
            _channel.Writer.TryComplete();
            Monitor.PulseAll(_readLock);
        }
    }

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
