namespace VirtioRpmsg.VhostUser;

/// <summary>
/// Feature bits that belong to the vhost-user transport (not to the rpmsg device): the virtio feature bit
/// that says "protocol features are negotiated", and the protocol feature bits this back-end knows.
/// </summary>
internal static class VhostUserFeatures
{
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES (virtio feature bit 30). virtio_uml needs it offered: without it the call
    /// interrupt lands on IRQ 0 (the timer's) and the rpmsg probe fails with -EBUSY.</summary>
    public const ulong ProtocolFeatures = 1UL << 30;

    /// <summary>VIRTIO_F_VERSION_1 (virtio feature bit 32): a virtio 1.x device. A modern front-end (QEMU's virtio-pci and
    /// virtio-mmio devices, vhost-user-device among them) refuses a device without it. For the split rings this back-end
    /// serves it means little-endian rings and rpmsg headers, which is what the device role reads and writes anyway (both
    /// supported runtimes are little-endian); legacy front-ends (virtio_uml) may leave it out.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>Protocol feature REPLY_ACK (bit 3): a request with NEED_REPLY gets a u64 status back.</summary>
    public const ulong ReplyAck = 1UL << 3;

    /// <summary>Protocol feature SLAVE_REQ (bit 5, "BACKEND_REQ" in newer specs): the front-end passes a back-end request channel.</summary>
    public const ulong SlaveRequest = 1UL << 5;

    /// <summary>Protocol features this back-end offers.</summary>
    public const ulong OfferedProtocolFeatures = ReplyAck | SlaveRequest;

    /// <summary>Bits 0-7 of a vring descriptor message: the queue index.</summary>
    internal const ulong VringIndexMask = 0xff;

    /// <summary>Bit 8 of a vring descriptor message: no descriptor is passed (polling).</summary>
    internal const ulong VringNoDescriptor = 1UL << 8;

    /// <summary>Checks that <paramref name="value"/> (SET_FEATURES or SET_PROTOCOL_FEATURES) is a subset of <paramref name="offered"/>.</summary>
    internal static ulong CheckOffered(VhostUserRequest request, ulong value, ulong offered)
    {
        if ((value & ~offered) != 0)
            throw new VhostUserProtocolException(new Fault(FaultLayer.VhostUser, FaultRule.FeaturesNotOffered, request == VhostUserRequest.SetFeatures ? "features" : "protocol_features", value,
                $"vhost-user {request}: 0x{value:X} includes bits that were not offered (0x{offered:X})"));
        return value;
    }
}
