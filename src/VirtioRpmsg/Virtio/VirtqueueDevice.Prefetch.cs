using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

// The device's prefetch of its ring lines after a wake-up (the driver's is in VirtqueueDriver.Peek.cs).
public sealed partial class VirtqueueDevice
{
    /// <summary>
    /// Prefetches the lines this queue's next take and publication touch (<see cref="Vring.PrefetchDeviceLines"/>), so
    /// that their transfers from the driver's core overlap. For a thread just woken by a kick. Reads the positions
    /// without the caller's lock (a stale one only fetches another line), reads no shared memory, never throws.
    /// </summary>
    internal void PrefetchNextLines()
    {
        if (!_vring.TryAcquire(out var lease))
            return;
        using (lease)
            _vring.PrefetchDeviceLines(lease, _lastAvail & _mask, _usedShadow & _mask);
    }

    /// <summary>
    /// <see cref="HasAvailable"/>, and when a chain is available, a read prefetch of up to <paramref name="maxLength"/>
    /// bytes of its first buffer (as <see cref="TryPeekNextAvailable"/> names it), under one lease when the buffer lies in
    /// the ring's mapping: a poller's look that found a message starts the transfer of the lines the take reads first.
    /// The look's values only choose what to fetch (an entry or descriptor the take would refuse is not looked at
    /// further, and nothing is recorded or broken); nothing on Device memory.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool HasAvailableThenPrefetch(int maxLength)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        if (_availSeen == _lastAvail && !LookAtAvailIndex(lease))
            return false;
        if (!PeekNext(lease, out var region, out long offset, out uint length))
            return true;
        int bytes = (int)Math.Min(length, (uint)Math.Max(0, maxLength));
        if (lease.Covers(region))
        {
            lease.PrefetchForRead(offset, bytes);
        }
        else if (region.TryAcquire(out var other))
        {
            using (other)
                other.PrefetchForRead(offset, bytes);
        }
        return true;
    }

    // avail.idx read, as a poller's look: true when chains are available. An index the take would accept is recorded as
    // validated (the take and PeekNext count on it without reading it again); one it would refuse is left for the take
    // to find and break the queue on.
    private bool LookAtAvailIndex(in MappingLease lease)
    {
        ushort availIdx = _vring.ReadAvailIndex(lease);
        if (availIdx == _lastAvail)
            return false;
        if ((ushort)(availIdx - _lastAvail) <= _num)
            _availSeen = availIdx;
        return true;
    }

    // The next chain's first buffer as the take would name it, from an entry a validated index read covers. False,
    // nothing recorded or broken, when nothing is known to be available, the entry or descriptor is invalid (the take
    // will find it), or on Device memory (nothing to prefetch for: not worth three uncached reads).
    private bool PeekNext(in MappingLease lease, out RegionHandle region, out long offset, out uint length)
    {
        region = default;
        offset = 0;
        length = 0;
        if (_availSeen == _lastAvail || lease.IsDeviceMemory)
            return false;
        ushort head = _vring.ReadAvailEntry(lease, _lastAvail & _mask);
        if (head >= _num)
            return false;
        _vring.ReadDescriptor(lease, head, out ulong address, out ulong word);
        length = (uint)word;
        return _buffers.TryTranslate(address, length, out region, out offset);
    }
}
