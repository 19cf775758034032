namespace VirtioRpmsg.VhostUser;

/// <summary>
/// Front-end requests of the vhost-user protocol (the numbering of the vhost-user specification).
/// The back-end implements the ones the Linux User-Mode kernel's virtio_uml sends (and a few harmless
/// neighbours); see docs/kernel-peer.md for the list. Every other value is refused with a fault.
/// </summary>
public enum VhostUserRequest : uint
{
    /// <summary>Reply: the device's feature bits (u64).</summary>
    GetFeatures = 1,

    /// <summary>The features the driver accepted (u64).</summary>
    SetFeatures = 2,

    /// <summary>This connection owns the back-end (no payload).</summary>
    SetOwner = 3,

    /// <summary>Drop the device state (no payload).</summary>
    ResetOwner = 4,

    /// <summary>Guest memory regions, one descriptor each.</summary>
    SetMemTable = 5,

    /// <summary>Dirty-page logging base (not implemented).</summary>
    SetLogBase = 6,

    /// <summary>Dirty-page logging descriptor (not implemented).</summary>
    SetLogFd = 7,

    /// <summary>Queue size (vring state).</summary>
    SetVringNum = 8,

    /// <summary>Descriptor table, used and avail ring addresses.</summary>
    SetVringAddr = 9,

    /// <summary>First avail index to process (vring state).</summary>
    SetVringBase = 10,

    /// <summary>Stop a ring; reply: its next avail index (vring state).</summary>
    GetVringBase = 11,

    /// <summary>The eventfd the driver writes to kick a queue.</summary>
    SetVringKick = 12,

    /// <summary>The descriptor the device writes to interrupt the driver for a queue.</summary>
    SetVringCall = 13,

    /// <summary>The descriptor for queue errors.</summary>
    SetVringErr = 14,

    /// <summary>Reply: the protocol feature bits (u64).</summary>
    GetProtocolFeatures = 15,

    /// <summary>The protocol features the front-end accepted (u64).</summary>
    SetProtocolFeatures = 16,

    /// <summary>Reply: the number of queues (u64).</summary>
    GetQueueNum = 17,

    /// <summary>Enable or disable a ring (vring state).</summary>
    SetVringEnable = 18,

    /// <summary>The back-end request channel (one descriptor).</summary>
    SetSlaveReqFd = 21,
}
