namespace VirtioRpmsg.Virtio;

// A ring resumed where an earlier device (on the same guest rings) left off: vhost-user SET_VRING_BASE.
public sealed partial class VirtqueueDevice
{
    /// <summary>
    /// Before the first take: start at avail index <paramref name="nextAvail"/> instead of 0 (a vhost-user ring resumed
    /// with SET_VRING_BASE: the entries before it were taken by an earlier device). The caller checked it against the
    /// ring's indices; a later avail.idx too far from it still breaks the queue at the take.
    /// </summary>
    internal void ResumeAt(ushort nextAvail)
    {
        _lastAvail = nextAvail;
        _availSeen = nextAvail;
    }

    /// <summary>
    /// The heads the driver has not got back: taken and not pushed (each as often as it is outstanding), and pushed
    /// without a publication of used.idx yet (a deferred push: the next device continues from the published used.idx, so
    /// it would overwrite them). What a device stopped now would leave in flight. Private state only, so it can be read
    /// after the device stopped and its memory was unmapped.
    /// </summary>
    internal int[] InFlightHeads()
    {
        var heads = new List<int>();
        for (ushort i = _usedPublished; i != _usedShadow; i++)
            if (_written.TryGetId(i & _mask, out uint id))
                heads.Add((int)id);
        for (int head = 0; head < _num; head++)
            for (int n = 0; n < _taken[head]; n++)
                heads.Add(head);
        return [.. heads];
    }

    /// <summary>
    /// Gives back chain <paramref name="head"/>, taken last and not pushed (nothing written into it): the avail index
    /// steps back one, so the next take, or the index a stopped device reports (vhost-user GET_VRING_BASE), is its entry
    /// again. The caller knows the chain was the last taken (its own record: no shared memory is read). False, nothing
    /// changed, when the head is not outstanding.
    /// </summary>
    internal bool TryUntakeLast(int head)
    {
        if ((uint)head >= (uint)_num || _taken[head] == 0)
            return false;
        _taken[head]--;
        _lastAvail--;
        return true;
    }

    /// <summary>
    /// Resumed ring, before the first take: chain <paramref name="head"/> was taken by an earlier device and never
    /// returned. Reads its descriptor once (it must be a single one inside the buffer map; a driver may not have
    /// changed it while it was in flight, and a hostile one that did only loses the buffer): true, and the head counts
    /// as taken here (so <see cref="PushUsed"/> accepts it), with its one <paramref name="segment"/>. False, nothing
    /// recorded and the queue not broken, for a head out of range, a second adoption, a chained, indirect or
    /// untranslatable descriptor, or one whose length is not <paramref name="expectedLength"/> (when non-zero) or whose
    /// direction is not <paramref name="deviceWritable"/>.
    /// </summary>
    internal bool TryAdoptTaken(int head, uint expectedLength, bool deviceWritable, out ChainSegment segment)
    {
        segment = default;
        if ((uint)head >= (uint)_num || _taken[head] != 0 || _health.IsBroken)
            return false;
        using var lease = _vring.Acquire();
        _vring.ReadDescriptor(lease, head, out ulong address, out ulong word);
        uint length = (uint)word;
        ushort flags = (ushort)(word >> 32);
        bool writable = (flags & VringFlags.DescriptorWrite) != 0;
        if ((flags & (VringFlags.DescriptorNext | VringFlags.DescriptorIndirect)) != 0 || writable != deviceWritable
            || (expectedLength != 0 && length != expectedLength))
            return false;
        if (!_buffers.TryTranslate(address, length, out var region, out long offset))
            return false;
        _taken[head]++;
        segment = new ChainSegment(region, offset, length, address, writable);
        return true;
    }
}
