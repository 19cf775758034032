namespace VirtioRpmsg.Memory;

/// <summary>
/// Counts live leases in per-processor stripes so that two cores taking leases on one region do
/// not bounce a single cache line. A lease decrements the stripe it incremented, so every stripe
/// stays non-negative and "all stripes zero" means "no live lease".
/// </summary>
internal sealed class LeaseCounter
{
    // 128 bytes between stripes: one cache line plus the adjacent-line prefetcher (x86) / 128-byte lines (some ARM64).
    private const int Stride = 16;
    private readonly long[] _slots;
    private readonly int _mask;

    internal LeaseCounter()
    {
        int stripes = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64));
        _mask = stripes - 1;
        // Slot 0 is left unused so the first stripe does not share a line with the array header.
        _slots = new long[(stripes + 1) * Stride];
    }

    /// <summary>Counts one lease in; returns the stripe to hand back to <see cref="Exit"/>.</summary>
    internal int Enter()
    {
        int stripe = (Thread.GetCurrentProcessorId() & _mask) + 1;
        // Full fence (Interlocked): orders this increment before the caller's read of the region state.
        Interlocked.Increment(ref _slots[stripe * Stride]);
        return stripe;
    }

    /// <summary>Counts one lease out. A negative stripe means a lease was released twice (a copied lease).</summary>
    internal void Exit(int stripe)
    {
        if (Interlocked.Decrement(ref _slots[stripe * Stride]) < 0)
        {
            Interlocked.Increment(ref _slots[stripe * Stride]);
            throw new InvalidOperationException("A mapping lease was released twice; a lease must be disposed exactly once (do not copy it).");
        }
    }

    /// <summary>Number of live leases. Exact once no new lease can be taken.</summary>
    internal long Live
    {
        get
        {
            long sum = 0;
            for (int s = 1; s <= _mask + 1; s++)
                sum += Volatile.Read(ref _slots[s * Stride]);
            return sum;
        }
    }
}
