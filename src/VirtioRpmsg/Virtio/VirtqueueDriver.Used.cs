using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>How far the device's published used index reaches, read once per batch (see TakeUsed).</summary>
public sealed partial class VirtqueueDriver
{
    /// <summary>
    /// Used chains the device has published and we have not reclaimed, reading (and validating) used.idx only when
    /// what an earlier read covered is used up; 0 when there are none.
    /// </summary>
    internal int UsedCovered()
    {
        _health.ThrowIfBroken();
        if (_usedSeen == _lastUsed)
        {
            using var lease = _vring.Acquire();
            RefreshUsedSeen(lease);
        }
        return (ushort)(_usedSeen - _lastUsed);
    }

    // Acquire: the used elements are read after the index that covers them. Elements an earlier read covered
    // need no new read (the device cannot take back what it published).
    private void RefreshUsedSeen(in MappingLease lease)
    {
        ushort last = _lastUsed;
        ushort usedIdx = _vring.ReadUsedIndex(lease);
        int pending = (ushort)(usedIdx - last);
        int inFlight = (ushort)(_availPublished - last);
        if (pending > inFlight)
            _health.Break(FaultRule.UsedIndexJump, "used.idx", usedIdx, $"used.idx is {usedIdx}, {pending} entries past the last reclaimed ({last}), but only {inFlight} chain(s) are published and not reclaimed");
        _usedSeen = usedIdx;
    }
}
