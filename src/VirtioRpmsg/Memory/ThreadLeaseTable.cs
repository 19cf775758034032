using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Memory;

/// <summary>
/// The leases one thread holds: up to 64 slots, each holding one word <c>(regionId &lt;&lt; 24) | tag</c>,
/// read by unmapping threads. All tables are reachable from one lock-free list so that
/// <see cref="SharedMemoryRegion.Unmap(TimeSpan)"/> can count the leases on its region.
/// </summary>
/// <remarks>
/// <para>Taking a lease is an asymmetric Dekker handshake. The owner stores the region id into its own
/// slot (no locked instruction, no cache line shared with other threads) and then reads the region's
/// state. The unmapper writes the closed state, runs a process-wide memory barrier (membarrier), and
/// then scans the slots. The barrier acts as a full fence on every other thread, so either the owner's
/// store is visible to the scan, or the owner's read comes after the fence and sees "closed". The
/// cost moves to Unmap, which is rare.</para>
/// <para>A lease is a <c>ref struct</c>, so it is always released on the thread that took it. Checking
/// its slot and tag here catches a copied lease released twice, before it can clear a slot that a
/// different live lease now uses (which would let an unmap run under that lease).</para>
/// </remarks>
internal sealed class ThreadLeaseTable
{
    /// <summary>Most leases one thread may hold at once; leases are short, so more is a bug.</summary>
    internal const int Capacity = 64;

    // Low bits of a slot word: the tag that tells this lease from a stale copy of an earlier one.
    private const int TagBits = 24;
    private const uint TagMask = (1u << TagBits) - 1;

    [ThreadStatic]
    private static ThreadLeaseTable? t_current;

    // Every table ever made; tables of ended threads are reused, so the list is as long as the most
    // threads that ever held leases at the same time.
    private static ThreadLeaseTable? s_head;

    private Thread _owner;
    private ThreadLeaseTable? _next;
    private ulong _live;                 // owner only
    private uint _nextTag;               // owner only
    private SlotArray _slots;            // written by the owner, read by unmapping threads; 0 = free

    private ThreadLeaseTable(Thread owner) => _owner = owner;

    /// <summary>The calling thread's table (made or adopted on the thread's first lease).</summary>
    internal static ThreadLeaseTable Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_current ?? Attach();
    }

    /// <summary>Number of leases the calling thread holds.</summary>
    internal static int HeldByCurrentThread => t_current is { } t ? BitOperations.PopCount(t._live) : 0;

    /// <summary>
    /// Claims a slot for a lease on <paramref name="regionId"/> and publishes it to unmappers;
    /// -1 when the thread already holds <see cref="Capacity"/> leases. The caller must read the
    /// region state only after this returns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Enter(long regionId, out uint tag)
    {
        ulong free = ~_live;
        if (free == 0)
        {
            tag = 0;
            return -1;
        }
        int slot = BitOperations.TrailingZeroCount(free);
        // Region ids start at 1, so a claimed slot is never 0 (free). The tag wraps after 2^24 leases:
        // a stale copy would have to meet a lease in the same slot with the same tag to go unnoticed.
        tag = unchecked(++_nextTag) & TagMask;
        _live |= 1UL << slot;
        // Store, then the caller loads the region state: this store-load pair is what the unmapper's
        // process-wide barrier orders (see the remarks on the type).
        Volatile.Write(ref _slots[slot], (regionId << TagBits) | tag);
        return slot;
    }

    // The region id of a token slot (EnterToken): no region has it, so no unmap counts or waits for such a slot.
    private const long NoRegionId = -1;

    /// <summary>
    /// Claims a slot that stands for no region: the liveness token of a view that holds no lease (an rx view of a
    /// parked, already copied message), so that a copy of it, once it is disposed, is told from it as a copy of a
    /// disposed lease is (<see cref="Holds"/>). It counts as a held lease (a blocking wait refuses while it is open,
    /// as for any view). Throws when the thread already holds <see cref="Capacity"/>, as taking a lease does.
    /// </summary>
    internal int EnterToken(out uint tag)
    {
        int slot = Enter(NoRegionId, out tag);
        if (slot < 0)
            throw new InvalidOperationException($"This thread already holds {Capacity} mapping leases or rx views; leases and views must be short and few.");
        return slot;
    }

    /// <summary>
    /// True while the lease that took <paramref name="slot"/> with <paramref name="tag"/> is live: every
    /// access checks it, so a copy of a released lease refuses access (one load and compare, owner thread).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Holds(int slot, uint tag)
    {
        long word = _slots[slot];
        return word != 0 && (uint)(word & TagMask) == tag;
    }

    /// <summary>Frees a slot; false (and no change) if it is not held with this tag, i.e. a second release.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryExit(int slot, uint tag)
    {
        if ((uint)slot >= Capacity)
            return false;
        // Only the owner writes its slots, so a plain read sees its own last store.
        long word = _slots[slot];
        if (word == 0 || (uint)(word & TagMask) != tag)
            return false;
        // Release: every access made under the lease happens before an unmapper can see the slot empty.
        Volatile.Write(ref _slots[slot], 0);
        _live &= ~(1UL << slot);
        return true;
    }

    /// <summary>
    /// Leases on <paramref name="regionId"/> held by live threads. Exact once the region refuses new
    /// leases and a process-wide barrier has run. A thread that has ended cannot touch memory any more,
    /// so a lease it leaked (never disposed) does not hold off an unmap.
    /// </summary>
    internal static long Count(long regionId)
    {
        long count = 0;
        for (var t = Volatile.Read(ref s_head); t is not null; t = t._next)
        {
            if (!Volatile.Read(ref t._owner).IsAlive)
                continue;
            for (int i = 0; i < Capacity; i++)
            {
                if (Volatile.Read(ref t._slots[i]) >> TagBits == regionId)
                    count++;
            }
        }
        return count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ThreadLeaseTable Attach()
    {
        var me = Thread.CurrentThread;
        for (var t = Volatile.Read(ref s_head); t is not null; t = t._next)
        {
            // The thread that ended can never use its table again; the CAS makes sure one thread adopts it.
            var owner = Volatile.Read(ref t._owner);
            if (!owner.IsAlive && Interlocked.CompareExchange(ref t._owner, me, owner) == owner)
            {
                // Leases it leaked die with it.
                for (int i = 0; i < Capacity; i++)
                    Volatile.Write(ref t._slots[i], 0);
                t._live = 0;
                return t_current = t;
            }
        }
        var table = new ThreadLeaseTable(me);
        do
        {
            table._next = Volatile.Read(ref s_head);
        }
        while (Interlocked.CompareExchange(ref s_head, table, table._next) != table._next);
        return t_current = table;
    }

    [InlineArray(Capacity)]
    private struct SlotArray
    {
        private long _element;
    }
}
