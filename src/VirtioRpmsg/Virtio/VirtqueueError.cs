namespace VirtioRpmsg.Virtio;

/// <summary>Why a virtqueue stopped trusting its peer. Each value is one validation rule on shared-memory data.</summary>
public enum VirtqueueError
{
    /// <summary>Not broken.</summary>
    None = 0,

    /// <summary>Device: an avail ring entry names a head descriptor index &gt;= num.</summary>
    HeadOutOfRange,

    /// <summary>Device: a descriptor's address/length is not wholly inside one registered buffer region, or overflows.</summary>
    DescriptorOutOfRange,

    /// <summary>Device: a descriptor with NEXT set names a next index &gt;= num.</summary>
    NextOutOfRange,

    /// <summary>Device: following <c>next</c> visits more than num descriptors (a loop or an overlong chain).</summary>
    ChainTooLong,

    /// <summary>Device: avail.idx moved by more than num past the entries already taken.</summary>
    AvailIndexJump,

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
}
