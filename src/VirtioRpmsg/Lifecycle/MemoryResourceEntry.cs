namespace VirtioRpmsg.Lifecycle;

/// <summary>Common layout of carveout and devmem entries: da, pa, len, flags, reserved, name[32].</summary>
/// <param name="Index">Position of the entry in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry (its type word) from the table start.</param>
/// <param name="DeviceAddress">da: address as the remote sees it (0xFFFFFFFF: any).</param>
/// <param name="PhysicalAddress">pa: physical address (0xFFFFFFFF: any).</param>
/// <param name="Length">len in bytes.</param>
/// <param name="Flags">flags (IOMMU protection bits).</param>
/// <param name="Name">name, up to 31 characters.</param>
public abstract record MemoryResourceEntry(int Index, int Offset, uint DeviceAddress, uint PhysicalAddress, uint Length, uint Flags, string Name)
    : ResourceEntry(Index, Offset)
{
    /// <summary>Entry size in bytes: type word, five u32 fields, 32-byte name.</summary>
    public const int EntrySize = 56;

    /// <summary>Fixed size of a carveout/devmem entry in bytes, type word included.</summary>
    public override int Size => EntrySize;
}
