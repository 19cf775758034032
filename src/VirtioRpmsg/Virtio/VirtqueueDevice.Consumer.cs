using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

// A consumer's give-back and next take in one step: one lease and one broken check instead of three.
public sealed partial class VirtqueueDevice
{
    /// <summary>
    /// <see cref="PushUsedDeferred"/> of <paramref name="release"/> (none when negative), then
    /// <see cref="TryTakeAvailable"/>, and when nothing is available <see cref="NotifyPrepare"/>, under one lease: a
    /// consumer's last look of a batch publishes what it gave back meanwhile. <paramref name="notify"/> says whether to
    /// notify the driver.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No chain with head <paramref name="release"/> was taken and not yet pushed.</exception>
    /// <exception cref="VirtqueueBrokenException">The driver wrote an invalid index or descriptor, or the queue was already broken.</exception>
    internal bool TryGiveBackAndTake(int release, uint releaseLength, out DescriptorChain chain, out bool notify)
    {
        _health.ThrowIfBroken();
        if (release >= 0)
            CheckTaken(release);
        using var lease = _vring.Acquire();
        if (release >= 0)
            PushElement(lease, release, releaseLength);
        if (Take(lease, out chain))
        {
            notify = false;
            return true;
        }
        notify = _lastNotifiedUsed != _usedShadow && PublishAndPrepareNotify(lease);
        return false;
    }

    /// <summary>
    /// <see cref="PushUsedAndNotifyPrepare(int, uint)"/> through <paramref name="lease"/>, the caller's lease on the
    /// ring's mapping (it filled the buffer through it): one lease for a send's fill and publication.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="lease"/> is not on the ring's region at its generation.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No chain with this head was taken and not yet pushed.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool PushUsedAndNotifyPrepare(int head, uint length, in MappingLease lease)
    {
        _health.ThrowIfBroken();
        CheckTaken(head);
        _vring.CheckCovered(lease);
        Push(lease, head, length);
        return PrepareNotify(lease);
    }

    private bool PublishAndPrepareNotify(in MappingLease lease)
    {
        PublishUsed(lease);
        return PrepareNotify(lease);
    }
}
