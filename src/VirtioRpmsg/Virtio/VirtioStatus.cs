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

/// <summary>
/// The ring feature bits (virtio spec, VIRTIO_RING_F_*), as masks of the 32-bit feature word that
/// remoteproc exchanges. Device-specific bits live with their device (<c>VirtioRpmsg.Rpmsg.RpmsgFeatures</c>).
/// </summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_RING_F_INDIRECT_DESC, bit 28 (not supported by this stack).</summary>
    public const uint IndirectDescriptors = 1u << 28;

    /// <summary>VIRTIO_RING_F_EVENT_IDX, bit 29.</summary>
    public const uint EventIndex = 1u << 29;
}
