namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// An entry of a type the remoteproc ABI does not define (4..127, or above the vendor range): skipped and recorded,
/// as Linux skips it ("unsupported resource", a warning), so a table that boots under the kernel's remoteproc
/// boots here too. Only its type word is read.
/// </summary>
/// <param name="Index">Position of the entry in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry (its type word) from the table start.</param>
/// <param name="Type">The entry's type word.</param>
public sealed record UnknownEntry(int Index, int Offset, uint Type) : ResourceEntry(Index, Offset)
{
    /// <summary>The type word as it was read.</summary>
    public override uint TypeCode => Type;

    /// <summary>Only the type word is known.</summary>
    public override int Size => 4;
}
