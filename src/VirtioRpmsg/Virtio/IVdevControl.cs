namespace VirtioRpmsg.Virtio;

/// <summary>
/// Where a virtio device's status byte and feature words live. For remoteproc this is the vdev entry
/// of the resource table in shared memory; the peer can write it at any time, so every read is a
/// fresh, untrusted value.
/// </summary>
public interface IVdevControl
{
    /// <summary>Features the device offers (dfeatures).</summary>
    uint DeviceFeatures { get; }

    /// <summary>Features the driver accepted (gfeatures).</summary>
    uint DriverFeatures { get; set; }

    /// <summary>The status byte: written with release ordering, read with acquire ordering.</summary>
    VirtioStatus Status { get; set; }
}
