namespace VirtioRpmsg.Lifecycle;

/// <summary>Common layout of carveout and devmem entries: da, pa, len, flags, reserved, name[32].</summary>
public abstract record MemoryResourceEntry(int Index, int Offset, uint DeviceAddress, uint PhysicalAddress, uint Length, uint Flags, string Name)
    : ResourceEntry(Index, Offset)
{
    /// <summary>Entry size in bytes: type word, five u32 fields, 32-byte name.</summary>
    public const int EntrySize = 56;

    /// <summary>Fixed size of a carveout/devmem entry in bytes, type word included.</summary>
    public override int Size => EntrySize;
}
