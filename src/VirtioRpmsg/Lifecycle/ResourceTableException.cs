namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A remoteproc resource table is malformed (or changed under us). Names the field, the entry index
/// (-1 for the header) and the offending value. The table is written by the remote, so every
/// malformed table ends here, never in an index-out-of-range exception.
/// </summary>
public sealed class ResourceTableException : FormatException
{
    /// <summary>Creates the exception for <paramref name="field"/> of entry <paramref name="entryIndex"/> (-1 for the header) holding <paramref name="value"/>.</summary>
    public ResourceTableException(string field, int entryIndex, ulong value, string detail)
        : base($"Resource table{(entryIndex >= 0 ? $" entry {entryIndex}" : " header")}: {field} = 0x{value:X} ({value}): {detail}.")
    {
        Field = field;
        EntryIndex = entryIndex;
        Value = value;
    }

    /// <summary>The field, e.g. "offset[2]", "vdev.config_len", "vring[1].num".</summary>
    public string Field { get; }

    /// <summary>Index of the entry in the offset array; -1 for the header.</summary>
    public int EntryIndex { get; }

    /// <summary>The rejected value.</summary>
    public ulong Value { get; }
}
