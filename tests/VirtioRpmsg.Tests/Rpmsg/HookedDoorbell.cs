using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A test doorbell around a loopback end: enforces the real doorbells' one-waiter rule (eventfd, UIO:
/// a second concurrent waiter throws InvalidOperationException), can mute rings, reports when a
/// waiter blocks with nothing pending, and can hold the next Ring until released (a hook for
/// "a ring writer is in flight").
/// </summary>
internal sealed class HookedDoorbell(IDoorbell inner) : IDoorbell
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private int _waiters;
    private int _holdNextRing;
    private long _blocks;
    private int _epoch;
    private int _idleEpoch = -1;

    public bool Muted { get; set; }

    /// <summary>Times a waiter blocked with no ring pending.</summary>
    public long Blocks => Interlocked.Read(ref _blocks);

    public ManualResetEventSlim InHeldRing { get; } = new();
    public ManualResetEventSlim ReleaseHeldRing { get; } = new();

    /// <summary>
    /// Starts a new epoch. Ring the peer's inner end first, then call this: once <see cref="IdleEpoch"/>
    /// equals the result, the waiter has consumed that ring and blocks with nothing pending.
    /// </summary>
    public int NextEpoch() => Interlocked.Increment(ref _epoch);

    /// <summary>The epoch a waiter that is blocked now read before it found nothing pending; -1 when not blocked.</summary>
    public int IdleEpoch => Volatile.Read(ref _idleEpoch);

    public void HoldNextRing() => Volatile.Write(ref _holdNextRing, 1);

    public bool Ring()
    {
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
            int epoch = Volatile.Read(ref _epoch);
            if (inner.Drain())
                return true;
            Interlocked.Increment(ref _blocks);
            Volatile.Write(ref _idleEpoch, epoch);
            return inner.Wait(timeout, cancellationToken);
        }
        finally
        {
            Volatile.Write(ref _idleEpoch, -1);
            Interlocked.Decrement(ref _waiters);
        }
    }

    public bool Drain() => inner.Drain();

    public void Dispose() => inner.Dispose();
}
