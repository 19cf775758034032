namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One vring of a vdev entry (20 bytes: da, align, num, notifyid, pa).
/// <see cref="Offset"/> is the byte offset of the vring entry from the table start.
/// </summary>
public sealed record VdevVring(int Index, int Offset, uint DeviceAddress, uint Align, uint Num, uint NotifyId, uint PhysicalAddress)
{
    /// <summary>Size of a vring entry in bytes.</summary>
    public const int EntrySize = 20;

    /// <summary>True when the remote left the address to the host (da == ADDR_ANY).</summary>
    public bool NeedsAddress => DeviceAddress == ResourceTable.AddrAny;
}
