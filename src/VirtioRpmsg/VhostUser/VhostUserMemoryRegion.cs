namespace VirtioRpmsg.VhostUser;

/// <summary>
/// One entry of SET_MEM_TABLE: guest physical address, size, the front-end's own (user) address of the same
/// memory, and where it starts in the passed descriptor. Vring addresses are user addresses; descriptor
/// addresses in the rings are guest addresses. (virtio_uml passes its physmem file with user = guest address.)
/// </summary>
internal readonly record struct VhostUserMemoryRegion(ulong GuestAddress, ulong Size, ulong UserAddress, ulong MmapOffset)
{
    /// <summary>Bytes per entry on the wire.</summary>
    public const int Length = 32;

    /// <summary>Most regions one table may hold (VHOST_MEMORY_BASELINE_NREGIONS).</summary>
    public const int MaxRegions = 8;

    /// <summary>True when <paramref name="userAddress"/> .. + <paramref name="length"/> lies inside this region's user range.</summary>
    internal bool ContainsUser(ulong userAddress, ulong length) =>
        userAddress >= UserAddress && length <= Size && userAddress - UserAddress <= Size - length;
}

/// <summary>SET_VRING_ADDR: queue index, flags, and the user addresses of the descriptor table, used ring and avail ring.</summary>
internal readonly record struct VhostUserVringAddress(uint Index, uint Flags, ulong Descriptors, ulong Used, ulong Avail, ulong Log);

/// <summary>The vring state payload (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE): queue index and a number.</summary>
internal readonly record struct VhostUserVringState(uint Index, uint Number);
