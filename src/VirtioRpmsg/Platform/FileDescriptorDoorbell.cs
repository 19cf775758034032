using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Common part of the doorbells whose inbound side is a pollable descriptor (eventfd, Unix socket,
/// UIO device): a cancellable, lease-checked Wait and a non-blocking Drain. Derived types supply
/// Ring and the non-blocking consume of their inbound descriptor.
/// </summary>
public abstract class FileDescriptorDoorbell : IDoorbell
{
    private readonly DescriptorWaiter _waiter;
    private volatile bool _disposed;

    private protected FileDescriptorDoorbell(string name)
    {
        Name = name;
        _waiter = new DescriptorWaiter(name);
    }

    /// <summary>What this doorbell is (a path or a description), used in every error message.</summary>
    public string Name { get; }

    /// <summary>The descriptor that becomes readable when the peer rings.</summary>
    private protected abstract FileDescriptor Inbound { get; }

    private protected bool IsDisposed => _disposed;

    /// <summary>The waits' waiter (tests: its hooks).</summary>
    internal DescriptorWaiter Waiter => _waiter;

    /// <summary>
    /// True when <see cref="Inbound"/> is in blocking mode and its reads yield the rings (an eventfd): a long
    /// Wait then blocks in read() itself (one system call per wake-up), and <see cref="Consume"/> must not block.
    /// </summary>
    private protected virtual bool ReadsBlocking => false;

    /// <summary>Called when a blocking read found the descriptor non-blocking after all: later waits poll.</summary>
    private protected virtual void StopBlockingReads()
    {
    }

    /// <inheritdoc />
    public abstract bool Ring();

    /// <inheritdoc />
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("IDoorbell.Wait");
        var deadline = Deadline.From(timeout, nameof(timeout));
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ReadsBlocking && (timeout == Timeout.InfiniteTimeSpan || timeout >= DescriptorWaiter.BlockingReadMinimum))
        {
            int read = _waiter.ReadBlocking(Inbound, deadline, cancellationToken);
            if (read > 0)
                return true;
            if (read != DescriptorWaiter.NotBlocking)
                return TimedOut();
            // The peer put the shared file back in non-blocking mode: poll from now on.
            StopBlockingReads();
        }
        while (true)
        {
            if (!_waiter.WaitReady(Inbound, forWrite: false, deadline, cancellationToken))
                return TimedOut();
            if (Consume(throwIfClosed: true))
                return true;
            // Readable but nothing to consume: a concurrent Drain took it. Wait again.
        }
    }

    /// <inheritdoc />
    public bool Drain() => Drain(throwIfClosed: false);

    /// <summary>
    /// <see cref="Drain()"/> for a side that never waits on the doorbell (a caller-polled device): a peer gone for
    /// good, with no ring pending, raises <see cref="DoorbellClosedException"/> as <see cref="Wait"/> does, instead of
    /// a plain false the poller could not tell from "no ring".
    /// </summary>
    /// <exception cref="DoorbellClosedException">The peer's end is gone (socket closed, UIO device removed).</exception>
    internal bool DrainOrThrowIfClosed() => Drain(throwIfClosed: true);

    private bool Drain(bool throwIfClosed)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // A thread blocked in read() takes the rings itself; a Drain must not take the count that ends its read.
        if (!_waiter.TryEnterDrain())
            return false;
        try
        {
            return Consume(throwIfClosed);
        }
        finally
        {
            _waiter.ExitDrain();
        }
    }

    /// <summary>
    /// Consumes pending rings without blocking; true if there were any. With
    /// <paramref name="throwIfClosed"/>, a peer that has gone away (and left nothing to consume)
    /// raises <see cref="DoorbellClosedException"/> instead of returning false forever.
    /// </summary>
    private protected abstract bool Consume(bool throwIfClosed);

    /// <summary>A wait that ended without a ring (its timeout): what the doorbell does then; false, the wait's result.</summary>
    private protected virtual bool TimedOut() => false;

    /// <summary>Closes the doorbell's own descriptors; a waiting thread is woken and gets <see cref="ObjectDisposedException"/>.</summary>
    private protected abstract void DisposeCore();

    /// <summary>Closes the descriptors; a thread waiting on this doorbell wakes with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _waiter.Dispose();
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    /// <summary>Kind and name of the doorbell, for logs.</summary>
    public override string ToString() => $"{GetType().Name} {Name}";
}
