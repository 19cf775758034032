namespace VirtioRpmsg.Virtio;

/// <summary>The virtio device status byte.</summary>
[Flags]
public enum VirtioStatus : byte
{
    /// <summary>Reset / nothing yet.</summary>
    None = 0,
    /// <summary>The driver noticed the device.</summary>
    Acknowledge = 1,
    /// <summary>The driver knows how to drive it.</summary>
    Driver = 2,
    /// <summary>The driver is ready: queues and buffers are set up.</summary>
    DriverOk = 4,
    /// <summary>Feature negotiation is complete.</summary>
    FeaturesOk = 8,
    /// <summary>The device hit an error and needs a reset.</summary>
    NeedsReset = 0x40,
    /// <summary>The driver gave up on the device.</summary>
    Failed = 0x80,
}

/// <summary>Feature bits used by rpmsg over remoteproc (32-bit feature words).</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_RPMSG_F_NS: the name service is supported.</summary>
    public const uint RpmsgNameService = 1u << 0;

    /// <summary>VIRTIO_RING_F_INDIRECT_DESC (not supported by this stack).</summary>
    public const uint IndirectDescriptors = 1u << 28;

    /// <summary>VIRTIO_RING_F_EVENT_IDX.</summary>
    public const uint EventIndex = 1u << 29;

    /// <summary>Virtio device id of rpmsg.</summary>
    public const uint RpmsgDeviceId = 7;
}
