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
        if (_availSeen == _lastAvail)
        {
            ushort availIdx = _vring.ReadAvailIndex(lease);
            if (availIdx == _lastAvail)
                return false;
            // Validated as by the take (which breaks the queue on a bad index), so the take can count on it.
            if ((ushort)(availIdx - _lastAvail) > _num)
                return true;
            _availSeen = availIdx;
        }
        if (lease.IsDeviceMemory)
            return true;
        ushort head = _vring.ReadAvailEntry(lease, _lastAvail & _mask);
        if (head >= _num)
            return true;
        _vring.ReadDescriptor(lease, head, out ulong address, out ulong word);
        uint length = Math.Min((uint)word, (uint)Math.Max(0, maxLength));
        if (!_buffers.TryTranslate(address, length, out var region, out long offset))
            return true;
        if (lease.Covers(region))
        {
            lease.PrefetchForRead(offset, (int)length);
        }
        else if (region.TryAcquire(out var other))
        {
            using (other)
                other.PrefetchForRead(offset, (int)length);
        }
        return true;
    }
}
