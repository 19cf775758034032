namespace VirtioRpmsg.Virtio;

/// <summary>The event-index rule (VIRTIO_RING_F_EVENT_IDX) shared by both directions.</summary>
internal static class VringEvent
{
    /// <summary>
    /// True when moving an index from <paramref name="oldIdx"/> to <paramref name="newIdx"/> passes the
    /// other side's <paramref name="eventIdx"/>, i.e. <c>(u16)(new - event - 1) &lt; (u16)(new - old)</c>.
    /// All arithmetic is modulo 2^16, so it holds across wrap-around.
    /// </summary>
    public static bool NeedsNotification(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);

    /// <summary>
    /// An event index the other side cannot cross soon, used to "disable" notifications under EVENT_IDX
    /// (where the flags are ignored): half of the free index space beyond the furthest index the other
    /// side can reach, which is at most <paramref name="num"/> past <paramref name="position"/>.
    /// </summary>
    internal static ushort FarFrom(ushort position, int num) => (ushort)(position + num + ((65536 - num) >> 1));

    /// <summary>
    /// True while an event written as <see cref="FarFrom"/>(<paramref name="writtenAt"/>) is still far from
    /// <paramref name="position"/>: the other side's reachable range has moved by less than a quarter of the margin.
    /// </summary>
    internal static bool StillFar(ushort writtenAt, ushort position, int num) => (ushort)(position - writtenAt) < ((65536 - num) >> 2);
}
