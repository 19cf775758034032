using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// An in-process doorbell pair (both sides in one process: loopback tests, benchmarks, an embedded
/// simulated remote). Rings coalesce: ringing a peer that already has a ring pending does nothing.
/// </summary>
public sealed class LoopbackDoorbell : IDoorbell
{
    private readonly ManualResetEventSlim _inbound = new(false, spinCount: 0);
    private LoopbackDoorbell _peer = null!;
    private int _pending;
    private int _disposed;

    private LoopbackDoorbell()
    {
    }

    /// <summary>Creates two connected ends: ringing one wakes the other.</summary>
    public static (LoopbackDoorbell First, LoopbackDoorbell Second) CreatePair()
    {
        var a = new LoopbackDoorbell();
        var b = new LoopbackDoorbell();
        a._peer = b;
        b._peer = a;
        return (a, b);
    }

    /// <summary>Number of rings delivered to the peer (diagnostics and tests).</summary>
    public long RingCount => Interlocked.Read(ref _ringCount);

    /// <summary>True while a ring waits to be consumed by this end's Wait or Drain (tests).</summary>
    internal bool IsRung => Volatile.Read(ref _pending) != 0;

    private long _ringCount;

    /// <summary>Signals the other end of the pair; false once that end is disposed.</summary>
    public bool Ring()
    {
        var peer = _peer;
        if (Volatile.Read(ref peer._disposed) != 0)
            return false;
        Interlocked.Increment(ref _ringCount);
        if (Interlocked.Exchange(ref peer._pending, 1) == 0)
            peer._inbound.Set();
        return true;
    }

    /// <inheritdoc/>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("LoopbackDoorbell.Wait");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_inbound.Wait(timeout, cancellationToken))
            return false;
        return Drain();
    }

    /// <inheritdoc/>
    public bool Drain()
    {
        _inbound.Reset();
        // Reset before clearing the flag: a ring after the clear sets the event again.
        return Interlocked.Exchange(ref _pending, 0) != 0;
    }

    /// <summary>Releases the event; rings from the other end then return false.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _inbound.Dispose();
    }
}
