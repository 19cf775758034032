namespace VirtioRpmsg.Lifecycle;

/// <summary>A vendor-specific entry (type 128..512): skipped, recorded so callers can see it was there.</summary>
/// <param name="Index">Position of the entry in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry (its type word) from the table start.</param>
/// <param name="Type">The entry's type word.</param>
public sealed record VendorEntry(int Index, int Offset, uint Type) : ResourceEntry(Index, Offset)
{
    /// <summary>The vendor-specific type word as it was read (128 to 512 by the remoteproc ABI).</summary>
    public override uint TypeCode => Type;

    /// <summary>Only the type word is known; the rest of the layout is vendor-defined.</summary>
    public override int Size => 4;
}
