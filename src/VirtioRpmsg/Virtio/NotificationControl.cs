using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// The suppression fields one side owns, and the peer index it re-checks: for the driver
/// (used_event, avail.flags NO_INTERRUPT, used.idx), for the device (avail_event, used.flags
/// NO_NOTIFY, avail.idx). The owner writes them (<see cref="Disable"/>, <see cref="Enable"/>,
/// <see cref="Follow"/>); the peer reads them after publishing (<see cref="PeerMustNotify"/>).
/// </summary>
internal readonly struct NotificationControl
{
    private readonly long _event;
    private readonly long _flags;
    private readonly ushort _suppressFlag;
    private readonly long _peerIndex;
    private readonly bool _systemBarriers;

    internal NotificationControl(long eventOffset, long flagsOffset, ushort suppressFlag, long peerIndexOffset, bool systemBarriers)
    {
        _systemBarriers = systemBarriers;
        _event = eventOffset;
        _flags = flagsOffset;
        _suppressFlag = suppressFlag;
        _peerIndex = peerIndexOffset;
    }

    /// <summary>Owner: ask the peer not to notify. With EVENT_IDX (where flags are ignored) the event moves out of reach.</summary>
    internal void Disable(in MappingLease lease, bool eventIndex, ushort position, int num)
    {
        if (eventIndex)
            lease.WriteUInt16(_event, VringEvent.FarFrom(position, num));
        else
            lease.WriteUInt16(_flags, _suppressFlag);
    }

    /// <summary>
    /// Owner: ask to be notified at the next entry after <paramref name="position"/>, then re-check;
    /// true if the peer's index is still at <paramref name="position"/> (safe to wait).
    /// </summary>
    internal bool Enable(in MappingLease lease, bool eventIndex, ushort position)
    {
        if (eventIndex)
            lease.WriteUInt16(_event, position);
        else
            lease.WriteUInt16(_flags, 0);
        // Store->load: the peer must see the re-enable, or we must see its new index; else a lost wake-up.
        SharedMemoryBarriers.Full(_systemBarriers);
        bool idle = lease.ReadUInt16Acquire(_peerIndex) == position;
        SharedMemoryBarriers.AfterConsume(_systemBarriers);
        return idle;
    }

    /// <summary>
    /// Owner, EVENT_IDX with notifications on: move the event to <paramref name="position"/> after
    /// consuming, then fence (Linux <c>virtio_store_mb</c>), so that "drain until empty, then wait" is
    /// safe: either the peer sees the new event, or our next read of its index sees what it published.
    /// </summary>
    internal void Follow(in MappingLease lease, ushort position)
    {
        lease.WriteUInt16(_event, position);
        SharedMemoryBarriers.Full(_systemBarriers);
    }

    /// <summary>
    /// Peer, after publishing its index from <paramref name="oldIdx"/> to <paramref name="newIdx"/>:
    /// full fence, then the event-index formula against the owner's event, or the owner's flag.
    /// </summary>
    internal bool PeerMustNotify(in MappingLease lease, bool eventIndex, ushort newIdx, ushort oldIdx)
    {
        // Store->load: the owner must either see the published index, or we must see its updated
        // event / flags; without the fence both could miss each other and the queue stalls.
        SharedMemoryBarriers.Full(_systemBarriers);
        if (eventIndex)
            return VringEvent.NeedsNotification(lease.ReadUInt16(_event), newIdx, oldIdx);
        return (lease.ReadUInt16(_flags) & _suppressFlag) == 0;
    }
}
