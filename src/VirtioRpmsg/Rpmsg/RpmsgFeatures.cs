namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// What the virtio rpmsg device is on the wire (Linux <c>virtio_rpmsg_bus.c</c>, <c>virtio_ids.h</c>):
/// its virtio device id and its device-specific feature bits. The ring feature bits are in
/// <see cref="Virtio.VirtioFeatures"/>.
/// </summary>
public static class RpmsgFeatures
{
    /// <summary>VIRTIO_ID_RPMSG: the virtio device id of rpmsg (a resource table's vdev <c>id</c>).</summary>
    public const uint VirtioDeviceId = 7;

    /// <summary>VIRTIO_RPMSG_F_NS (bit 0): the name service is supported.</summary>
    public const uint NameService = 1u << 0;
}
