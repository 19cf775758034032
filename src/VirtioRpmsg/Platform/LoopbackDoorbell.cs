using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// An in-process doorbell pair (both sides in one process: loopback tests, benchmarks, an embedded
/// simulated remote). Rings coalesce: ringing a peer that already has a ring pending does nothing.
/// </summary>
/// <remarks>
/// Each end is one futex word: <see cref="Ring"/> is an atomic or, plus a futex wake only while the peer sleeps,
/// so it takes no lock and never blocks (an event's Set takes the event's lock while a waiter sleeps: seed 001).
/// No descriptors are used.
/// </remarks>
public sealed class LoopbackDoorbell : IDoorbell
{
    // The futex word: bit 0 is a pending ring; the bits above count wake-ups that are not rings (a cancellation,
    // Dispose). Nobody ever takes a wake-up back, so a sleeper that read the word before one came finds it changed
    // (the futex compares) whatever other waiters did meanwhile.
    private const int RungBit = 1;
    private const int WakeStep = 2;

    // On the pinned heap: the kernel sleeps on its address, and a ring racing with Dispose still writes memory
    // this object keeps alive.
    private readonly int[] _word = GC.AllocateArray<int>(1, pinned: true);
    private LoopbackDoorbell _peer = null!;
    private int _sleepers;
    private int _disposed;
    private long _ringCount;

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
    internal bool IsRung => (Volatile.Read(ref _word[0]) & RungBit) != 0;

    /// <summary>Threads asleep in this end's <see cref="Wait"/> or about to be (tests).</summary>
    internal int Sleepers => Volatile.Read(ref _sleepers);

    /// <summary>Signals the other end of the pair; false once that end is disposed.</summary>
    public bool Ring()
    {
        var peer = _peer;
        if (Volatile.Read(ref peer._disposed) != 0)
            return false;
        Interlocked.Increment(ref _ringCount);
        // The interlocked or is a full fence before the look at the sleepers, as a sleeper's count is before its
        // look at the word: one of the two sees the other, so a ring is never slept through.
        if ((Interlocked.Or(ref peer._word[0], RungBit) & RungBit) == 0 && Volatile.Read(ref peer._sleepers) != 0)
            Native.FutexWake(ref peer._word[0]);
        return true;
    }

    /// <inheritdoc/>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("LoopbackDoorbell.Wait");
        ThrowIfDisposed();
        var deadline = Deadline.From(timeout, nameof(timeout));
        cancellationToken.ThrowIfCancellationRequested();
        if (Drain())
            return true;
        var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((LoopbackDoorbell)s!).WakeSleepers(), this)
            : default;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ThrowIfDisposed();
                long left = deadline.IsInfinite ? -1 : RemainingNanoseconds(deadline);
                if (left == 0)
                    return Drain();
                Interlocked.Increment(ref _sleepers);
                try
                {
                    // The word is read before the last looks at the token and Dispose: a wake-up after them changes it.
                    int seen = Volatile.Read(ref _word[0]);
                    if ((seen & RungBit) == 0 && !cancellationToken.IsCancellationRequested && Volatile.Read(ref _disposed) == 0)
                        Native.FutexWait(ref _word[0], seen, left); // woken, timed out, interrupted: all re-checked
                }
                finally
                {
                    Interlocked.Decrement(ref _sleepers);
                }
                if (Drain())
                    return true;
            }
        }
        finally
        {
            registration.Dispose();
        }
    }

    /// <inheritdoc/>
    public bool Drain() => (Volatile.Read(ref _word[0]) & RungBit) != 0 && (Interlocked.And(ref _word[0], ~RungBit) & RungBit) != 0;

    /// <summary>Marks the end disposed and wakes its sleepers (they throw <see cref="ObjectDisposedException"/>); rings from the other end then return false.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            WakeSleepers();
    }

    private void WakeSleepers()
    {
        Interlocked.Add(ref _word[0], WakeStep);
        Native.FutexWake(ref _word[0]);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static long RemainingNanoseconds(Deadline deadline)
    {
        var left = deadline.Remaining;
        return left <= TimeSpan.Zero ? 0 : Math.Max(1, Math.Min(left.Ticks, long.MaxValue / 100) * 100);
    }
}
