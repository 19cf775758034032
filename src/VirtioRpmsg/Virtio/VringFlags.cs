namespace VirtioRpmsg.Virtio;

/// <summary>Flag values of the split virtqueue (virtio spec, legacy layout); the feature bits are in <see cref="VirtioFeatures"/>.</summary>
public static class VringFlags
{
    /// <summary>Descriptor flag: the chain continues at <c>next</c>.</summary>
    public const ushort DescriptorNext = 1;

    /// <summary>Descriptor flag: the buffer is device-writable (otherwise device-readable).</summary>
    public const ushort DescriptorWrite = 2;

    /// <summary>Descriptor flag: the buffer holds a table of indirect descriptors (not supported here).</summary>
    public const ushort DescriptorIndirect = 4;

    /// <summary>avail.flags: the driver asks the device not to interrupt it (ignored with EVENT_IDX).</summary>
    public const ushort AvailNoInterrupt = 1;

    /// <summary>used.flags: the device asks the driver not to notify (kick) it (ignored with EVENT_IDX).</summary>
    public const ushort UsedNoNotify = 1;
}
