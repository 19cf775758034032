namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One entry of a parsed resource table: a private, validated copy. <see cref="Offset"/> is the byte
/// offset of the entry (its type word) from the table start, so write-backs can target it.
/// </summary>
/// <param name="Index">Position in the table's offset array.</param>
/// <param name="Offset">Byte offset of the entry from the table start.</param>
public abstract record ResourceEntry(int Index, int Offset)
{
    /// <summary>The raw type word.</summary>
    public abstract uint TypeCode { get; }

    /// <summary>Number of bytes the entry occupies (for vendor entries only the type word is known).</summary>
    public abstract int Size { get; }
}
