namespace VirtioRpmsg;

/// <summary>The validation rule a <see cref="Fault"/> names. Each value is one check on data the peer controls.</summary>
public enum FaultRule
{
    // ---- virtqueue, device role ----

    /// <summary>Device: an avail ring entry names a head descriptor index &gt;= num.</summary>
    HeadOutOfRange = 1,

    /// <summary>Device: a descriptor's address/length is not wholly inside one registered buffer region, or overflows.</summary>
    DescriptorOutOfRange,

    /// <summary>Device: a descriptor with NEXT set names a next index &gt;= num.</summary>
    NextOutOfRange,

    /// <summary>Device: following <c>next</c> visits more than num descriptors (a loop or an overlong chain).</summary>
    ChainTooLong,

    /// <summary>Device: avail.idx moved by more than num past the entries already taken.</summary>
    AvailIndexJump,

    // ---- virtqueue, driver role ----

    /// <summary>Driver: used.idx moved past the number of chains published and not yet reclaimed.</summary>
    UsedIndexJump,

    /// <summary>Driver: a used element's id is &gt;= num.</summary>
    UsedIdOutOfRange,

    /// <summary>Driver: a used element's id is not the head of a chain in flight (never posted, not a head, or returned twice).</summary>
    UsedIdNotOutstanding,

    /// <summary>Driver: a used element's length exceeds what the chain can hold.</summary>
    UsedLengthTooLarge,

    /// <summary>Device: a descriptor has the INDIRECT flag, which was not negotiated.</summary>
    IndirectNotSupported,

    // ---- rpmsg ----

    /// <summary>A buffer chain is not one descriptor of the direction rpmsg uses (host rx: device-writable, host tx: readable).</summary>
    BufferShape,

    /// <summary>The peer's buffers are not the configured buffer size.</summary>
    BufferSizeMismatch,

    /// <summary>The host accepted feature bits the device did not offer.</summary>
    FeaturesNotOffered,

    /// <summary>The remote changed driver-owned bits of the vdev status byte.</summary>
    StatusOverwritten,

    /// <summary>The remote set DEVICE_NEEDS_RESET in the vdev status byte.</summary>
    DeviceNeedsReset,

    /// <summary>The peer delivered an rx buffer again while the application still holds it.</summary>
    HeldBufferRedelivered,

    /// <summary>A message is shorter than the 16-byte rpmsg header.</summary>
    HeaderTooShort,

    /// <summary>The receive dispatcher failed with an unexpected exception (a bug on this side, reported instead of crashing).</summary>
    DispatcherFailed,

    /// <summary>The peer closed its end of the doorbell (its socket, the UIO device): no ring can arrive; the peer is gone.</summary>
    DoorbellClosed,

    // ---- memory ----

    /// <summary>The shared memory was unmapped (or remapped) while an operation was using it.</summary>
    MemoryUnmapped,

    // ---- vhost-user ----

    /// <summary>vhost-user: a message header has the wrong version or flags (a reply bit from the front-end).</summary>
    VhostUserHeader,

    /// <summary>vhost-user: a payload size does not match its request, or is larger than any request allows.</summary>
    VhostUserPayloadSize,

    /// <summary>vhost-user: a request this back-end does not implement.</summary>
    VhostUserUnsupportedRequest,

    /// <summary>vhost-user: a message carries a different number of descriptors than its request needs.</summary>
    VhostUserDescriptorCount,

    /// <summary>vhost-user: a passed descriptor cannot be used (mmap, size or read/write fails).</summary>
    VhostUserBadDescriptor,

    /// <summary>vhost-user: a vring index is not one of the device's queues.</summary>
    VhostUserVringIndex,

    /// <summary>vhost-user: a vring size is not a power of two in range, or a base is not 0.</summary>
    VhostUserVringSize,

    /// <summary>vhost-user: vring addresses are outside guest memory or not one contiguous aligned ring.</summary>
    VhostUserVringAddress,

    /// <summary>vhost-user: the memory table has no or too many regions, empty or overlapping ones, or bad offsets.</summary>
    VhostUserMemoryTable,

    /// <summary>vhost-user: a request arrived before what it depends on (e.g. a vring address before the memory table).</summary>
    VhostUserRequestOrder,
}
