using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

// A consumer's give-back and next take in one step, and a send's fill and publication through one lease.
public sealed partial class VirtqueueDriver
{
    /// <summary>
    /// <see cref="TryAddPooledAndPublish(ulong, uint, bool, int, out bool)"/> through <paramref name="lease"/>, the
    /// caller's lease on the ring's mapping (it filled the buffer through it): one lease for a send's fill and
    /// publication.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="lease"/> is not on the ring's region at its generation.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool TryAddPooledAndPublish(ulong deviceAddress, uint length, bool deviceWritable, int token, out bool kick, in MappingLease lease)
    {
        _health.ThrowIfBroken();
        _vring.CheckCovered(lease);
        if (!AddPooled(lease, deviceAddress, length, deviceWritable, token))
        {
            kick = false;
            return false;
        }
        kick = Publish(lease);
        return true;
    }

    /// <summary>
    /// <see cref="TryAddPooled"/>, then <see cref="TryGetUsedOrPublish"/>, under one lease: a consumer that re-posts the
    /// buffer it used and looks for the next. <paramref name="added"/> false (nothing added, nothing taken or published)
    /// when no descriptor is free.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">
    /// The device wrote an invalid used index or element, or the queue was already broken.
    /// </exception>
    internal bool TryAddPooledThenGetUsedOrPublish(ulong deviceAddress, uint length, bool deviceWritable, int token, out bool added,
        out int usedToken, out uint usedLength, out bool kick)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        added = AddPooled(lease, deviceAddress, length, deviceWritable, token);
        if (!added)
        {
            usedToken = 0;
            usedLength = 0;
            kick = false;
            return false;
        }
        if (TakeUsed(lease, out usedToken, out usedLength))
        {
            kick = false;
            return true;
        }
        kick = Publish(lease);
        return false;
    }
}
