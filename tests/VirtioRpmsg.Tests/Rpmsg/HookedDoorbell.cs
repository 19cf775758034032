using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A test doorbell around a loopback end: enforces the real doorbells' one-waiter rule (eventfd, UIO:
/// a second concurrent waiter throws InvalidOperationException), can mute rings, tells the test when
/// its waiter blocks with nothing pending (a handshake, not a timing guess), and can hold the next
/// Ring until released (a hook for "a ring writer is in flight").
/// </summary>
internal sealed class HookedDoorbell(IDoorbell inner) : IDoorbell
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly object _sync = new();
    private int _waiters;
    private int _holdNextRing;
    private int _epoch;
    private int _idleEpoch = -1;

    /// <summary>Rings from this end are dropped (the peer is not woken).</summary>
    public bool Muted
    {
        get => Volatile.Read(ref _muted);
        set => Volatile.Write(ref _muted, value);
    }

    private bool _muted;

    public ManualResetEventSlim InHeldRing { get; } = new();
    public ManualResetEventSlim ReleaseHeldRing { get; } = new();

    public void HoldNextRing() => Volatile.Write(ref _holdNextRing, 1);

    /// <summary>Runs on the waiting thread as its Wait ends (returns or throws), before it stops counting as the waiter.</summary>
    public Action? BeforeWaitEnds { get; set; }

    /// <summary>True while a thread is inside <see cref="Wait"/>.</summary>
    public bool HasWaiter => Volatile.Read(ref _waiters) != 0;

    /// <summary>
    /// Rings this end from its peer (<paramref name="ringFromPeer"/>) and waits until this end's waiter
    /// has consumed that ring and blocks again with nothing pending. The ring and the epoch step are one
    /// step under the lock the waiter takes to read the epoch and drain, so a waiter that reports the
    /// new epoch as idle has provably consumed the ring; and the ring wakes (or pre-empts) the waiter, so
    /// it always comes back to report. False when that did not happen within the bound.
    /// </summary>
    public bool RingAndWaitUntilIdle(Action ringFromPeer)
    {
        int epoch;
        lock (_sync)
        {
            ringFromPeer();
            epoch = ++_epoch;
        }
        var deadline = DateTime.UtcNow + Bound;
        lock (_sync)
        {
            while (_idleEpoch != epoch)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_sync, left))
                    return _idleEpoch == epoch;
            }
            return true;
        }
    }

    /// <summary>Rings from this end so far, muted ones included.</summary>
    public int Rings => Volatile.Read(ref _rings);

    private int _rings;

    public bool Ring()
    {
        Interlocked.Increment(ref _rings);
        if (Interlocked.Exchange(ref _holdNextRing, 0) == 1)
        {
            InHeldRing.Set();
            ReleaseHeldRing.Wait(Bound);
        }
        return Muted || inner.Ring();
    }

    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _waiters) != 1)
        {
            Interlocked.Decrement(ref _waiters);
            throw new InvalidOperationException("hooked doorbell already has a waiting thread; only one thread may wait on it at a time.");
        }
        try
        {
            lock (_sync)
            {
                if (inner.Drain())
                    return true;
                // Nothing pending as of this epoch: the waiter is about to block (a ring from here on
                // wakes inner.Wait, which the event inside it remembers).
                _idleEpoch = _epoch;
                Monitor.PulseAll(_sync);
            }
            return inner.Wait(timeout, cancellationToken);
        }
        finally
        {
            lock (_sync)
                _idleEpoch = -1;
            BeforeWaitEnds?.Invoke();
            Interlocked.Decrement(ref _waiters);
        }
    }

    public bool Drain() => inner.Drain();

    public void Dispose() => inner.Dispose();
}
