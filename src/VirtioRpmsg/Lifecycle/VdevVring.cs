namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One vring of a vdev entry (20 bytes: da, align, num, notifyid, pa).
/// <see cref="Offset"/> is the byte offset of the vring entry from the table start.
/// </summary>
/// <param name="Index">Position of the vring in the vdev entry.</param>
/// <param name="Offset">Byte offset of this vring descriptor from the table start.</param>
/// <param name="DeviceAddress">da: device address of the vring (0xFFFFFFFF: the host chooses).</param>
/// <param name="Align">Alignment of the used ring.</param>
/// <param name="Num">Entries in the vring.</param>
/// <param name="NotifyId">Notify id used to kick this vring.</param>
/// <param name="PhysicalAddress">pa: physical address (often equal to da).</param>
public sealed record VdevVring(int Index, int Offset, uint DeviceAddress, uint Align, uint Num, uint NotifyId, uint PhysicalAddress)
{
    /// <summary>Size of a vring entry in bytes.</summary>
    public const int EntrySize = 20;

    internal const int NotifyIdOffset = 12;

    /// <summary>True when the remote left the address to the host (da == ADDR_ANY).</summary>
    public bool NeedsAddress => DeviceAddress == ResourceTable.AddrAny;
}
