namespace VirtioRpmsg.Virtio;

/// <summary>
/// A chain taken from the avail ring by <see cref="VirtqueueDevice.TryTakeAvailable"/>. It views the
/// device's private, already validated copy of the descriptors (never shared memory), so reading it
/// cannot be raced by the driver. Valid until the next <c>TryTakeAvailable</c> on the same queue;
/// return it with <see cref="VirtqueueDevice.PushUsed"/> using <see cref="Head"/>.
/// </summary>
public readonly ref struct DescriptorChain
{
    private readonly ReadOnlySpan<ChainSegment> _segments;

    internal DescriptorChain(int head, ReadOnlySpan<ChainSegment> segments, ulong totalLength, ulong writableLength)
    {
        Head = head;
        _segments = segments;
        TotalLength = totalLength;
        WritableLength = writableLength;
    }

    /// <summary>Index of the head descriptor (the id to push on the used ring).</summary>
    public int Head { get; }

    /// <summary>Number of descriptors in the chain (at least 1 for a taken chain).</summary>
    public int SegmentCount => _segments.Length;

    /// <summary>Segment <paramref name="index"/> (0 = head).</summary>
    public ChainSegment this[int index] => _segments[index];

    /// <summary>All segments, head first.</summary>
    public ReadOnlySpan<ChainSegment> Segments => _segments;

    /// <summary>Sum of all segment lengths.</summary>
    public ulong TotalLength { get; }

    /// <summary>Sum of the device-writable segment lengths.</summary>
    public ulong WritableLength { get; }
}
