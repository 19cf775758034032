using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

// A look at the next used element without taking it: where a poller's next take will read, so it can be fetched early.
public sealed partial class VirtqueueDriver
{
    /// <summary>
    /// <see cref="HasUsed"/> that also names the next chain <see cref="TryGetUsed"/> would reclaim, without reclaiming
    /// it: its token and reported length, or -1 when nothing is pending or that element would break the queue (the
    /// take finds it and breaks it; nothing is recorded or broken here). A hint for a prefetch of the buffer the take
    /// will read. The index is validated as by the take, and an index read that passed counts for later takes.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool PeekUsed(out int token, out uint length)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        return Peek(lease, out token, out length);
    }

    /// <summary>
    /// <see cref="PeekUsed"/>, and when it names a chain whose token is below <paramref name="tokenLimit"/>, a read
    /// prefetch of that token's buffer in a pool of equal buffers (<paramref name="stride"/> bytes each from
    /// <paramref name="poolOffset"/> in <paramref name="pool"/>; as many bytes as the device reported, at most a buffer),
    /// under the ring's lease when the pool lies in the ring's mapping: a poller's look that found a message starts the
    /// transfer of the lines the take reads first. A hint; nothing on Device memory.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool PeekUsedThenPrefetch(RegionHandle pool, long poolOffset, int stride, int tokenLimit)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        if (!Peek(lease, out int token, out uint length))
            return false;
        if ((uint)token >= (uint)tokenLimit)
            return true;
        long offset = poolOffset + (long)token * stride;
        int bytes = (int)Math.Min(length, (uint)stride);
        if (lease.Covers(pool))
        {
            lease.PrefetchForRead(offset, bytes);
        }
        else if (pool.TryAcquire(out var other))
        {
            using (other)
                other.PrefetchForRead(offset, bytes);
        }
        return true;
    }

    private bool Peek(in MappingLease lease, out int token, out uint length)
    {
        token = -1;
        length = 0;
        ushort last = _lastUsed;
        if (_usedSeen == last)
        {
            ushort usedIdx = _vring.ReadUsedIndex(lease);
            if (usedIdx == last)
                return false;
            if ((ushort)(usedIdx - last) > (ushort)(_availPublished - last))
                return true;
            _usedSeen = usedIdx;
        }
        ulong element = _vring.ReadUsedElement(lease, last & _mask);
        uint id = (uint)element;
        uint len = (uint)(element >> 32);
        if (id < (uint)_num && _chainCount[id] != 0 && len <= _usedLimit[id])
        {
            token = _token[id];
            length = len;
        }
        return true;
    }

    /// <summary>
    /// Prefetches the lines this queue's next take and publication touch (<see cref="Vring.PrefetchDriverLines"/>), so
    /// that their transfers from the device's core overlap. For a thread just woken by a notification. Reads the
    /// positions without the caller's lock (a stale one only fetches another line), reads no shared memory, never throws.
    /// </summary>
    internal void PrefetchNextLines()
    {
        if (!_vring.TryAcquire(out var lease))
            return;
        using (lease)
            _vring.PrefetchDriverLines(lease, _lastUsed & _mask, _availShadow & _mask);
    }
}
