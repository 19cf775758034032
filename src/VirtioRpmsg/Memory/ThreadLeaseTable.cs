using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Memory;

/// <summary>
/// The leases the calling thread holds, as up to 64 slots each stamped with a tag. A lease is a
/// <c>ref struct</c>, so it is always released on the thread that took it; checking its slot and tag
/// here catches a copied lease released twice <em>before</em> it can decrement the shared counter and
/// steal the count of a different live lease (which would let an unmap run under that lease).
/// </summary>
internal static class ThreadLeaseTable
{
    /// <summary>Most leases one thread may hold at once; leases are short, so more is a bug.</summary>
    internal const int Capacity = 64;

    [ThreadStatic]
    private static State t_state;

    /// <summary>Number of leases the calling thread holds.</summary>
    internal static int Count => BitOperations.PopCount(t_state.Live);

    /// <summary>Claims a slot; false when the thread already holds <see cref="Capacity"/> leases.</summary>
    internal static bool TryTake(out int slot, out uint tag)
    {
        ref State s = ref t_state;
        ulong free = ~s.Live;
        if (free == 0)
        {
            slot = -1;
            tag = 0;
            return false;
        }
        slot = BitOperations.TrailingZeroCount(free);
        // Tag 0 is never issued, so a default slot can never match. Wrapping after 2^32 takes is harmless:
        // a stale copy would have to meet a lease in the same slot with the same tag.
        tag = ++s.NextTag;
        if (tag == 0)
            tag = ++s.NextTag;
        s.Tags[slot] = tag;
        s.Live |= 1UL << slot;
        return true;
    }

    /// <summary>Frees a slot; false (and no change) if it is not held with this tag, i.e. a second release.</summary>
    internal static bool TryReturn(int slot, uint tag)
    {
        ref State s = ref t_state;
        ulong bit = 1UL << slot;
        if ((s.Live & bit) == 0 || s.Tags[slot] != tag)
            return false;
        s.Live &= ~bit;
        return true;
    }

    private struct State
    {
        public ulong Live;
        public uint NextTag;
        public TagArray Tags;
    }

    [InlineArray(Capacity)]
    private struct TagArray
    {
        private uint _element;
    }
}
