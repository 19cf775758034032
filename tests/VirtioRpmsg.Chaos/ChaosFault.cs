namespace VirtioRpmsg.Chaos;

/// <summary>
/// One class of fault the chaos peer injects. Each value is seeded on its own: the seed picks the ring,
/// the values written and the moment of injection.
/// </summary>
public enum ChaosFault
{
    // ---- the remote corrupts what the device writes (victim: the host) ----

    /// <summary>used.idx moved forward past everything in flight.</summary>
    UsedIndexJump,

    /// <summary>used.idx moved backwards.</summary>
    UsedIndexRewind,

    /// <summary>used.idx moved by about half the 16-bit index space, or to the wrap boundary.</summary>
    UsedIndexWrap,

    /// <summary>A used element whose id is &gt;= num.</summary>
    UsedIdOutOfRange,

    /// <summary>A used element whose id is a descriptor that is not a chain head in flight.</summary>
    UsedIdUnknown,

    /// <summary>A used element that returns a chain already returned.</summary>
    UsedIdDuplicate,

    /// <summary>A used element whose length exceeds what the chain can hold.</summary>
    UsedLengthTooLarge,

    /// <summary>An rpmsg header whose len exceeds the bytes in the buffer (or a used length shorter than a header).</summary>
    HeaderLengthTooLarge,

    /// <summary>An rpmsg message to an address with no endpoint.</summary>
    UnknownDestination,

    /// <summary>An rpmsg message from a reserved source (ADDR_ANY, or the name-service address).</summary>
    ReservedSource,

    /// <summary>
    /// A name-service message whose name has no NUL within 32 bytes and is not UTF-8: rejected for the encoding (a
    /// 32-byte name alone is accepted as its first 31 bytes, as Linux does).
    /// </summary>
    NameServiceNoNul,

    /// <summary>A name-service announcement for ADDR_ANY.</summary>
    NameServiceAddressAny,

    /// <summary>A name-service announcement for the name-service address itself.</summary>
    NameServiceAddressReserved,

    /// <summary>A name-service destroy for a channel that does not exist.</summary>
    NameServiceDestroyUnknown,

    /// <summary>More announcements than the host's endpoint and unbound-service limits.</summary>
    NameServiceCreateFlood,

    /// <summary>An announcement for a service name not on the host's allow-list.</summary>
    NameServiceNotAllowed,

    /// <summary>The remote sets DEVICE_NEEDS_RESET in the status byte.</summary>
    StatusNeedsReset,

    /// <summary>The remote overwrites the driver-owned bits of the status byte (FAILED, cleared DRIVER_OK, ...).</summary>
    StatusScribble,

    /// <summary>The remote scribbles the driver-owned descriptors not in flight and the notification fields (harmless by design).</summary>
    DescriptorScribble,

    // ---- timing (host runs its own dispatcher thread) ----

    /// <summary>The remote stops consuming: host senders must time out, not hang.</summary>
    StallForever,

    /// <summary>Thousands of doorbells with no work behind them (spurious interrupts).</summary>
    KickFlood,

    /// <summary>The remote never rings: the host's idle re-check must still deliver everything.</summary>
    NoKicks,

    /// <summary>The remote dies with a message half written (used element but no used.idx, or only part of the header).</summary>
    DieMidMessage,

    // ---- a hostile host writes what the driver owns (victim: our device-role RpmsgDevice) ----

    /// <summary>avail.idx moved by more than num (forward or backward).</summary>
    AvailIndexJump,

    /// <summary>An avail entry naming a head &gt;= num.</summary>
    AvailHeadOutOfRange,

    /// <summary>A descriptor whose address/length lies outside the buffer regions or overflows.</summary>
    DescriptorOutOfRange,

    /// <summary>A chain that loops (self loop or a cycle through up to num descriptors: an overlong chain).</summary>
    ChainLoop,

    /// <summary>A descriptor whose next index is &gt;= num.</summary>
    NextOutOfRange,
}
