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
        token = -1;
        length = 0;
        using var lease = _vring.Acquire();
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
