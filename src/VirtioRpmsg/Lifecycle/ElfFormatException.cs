namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A firmware ELF image is malformed or unsupported. Names the field (e.g. "e_phoff", "p_filesz"),
/// the program/section header index (-1 for the file header) and the offending value.
/// </summary>
public sealed class ElfFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="field"/> of program/section header <paramref name="index"/> (-1 for the file header) holding <paramref name="value"/>; <paramref name="detail"/> says what is wrong.</summary>
    public ElfFormatException(string field, int index, ulong value, string detail)
        : base($"ELF image{(index >= 0 ? $" header {index}" : "")}: {field} = 0x{value:X} ({value}): {detail}.")
    {
        Field = field;
        Index = index;
        Value = value;
    }

    /// <summary>The ELF field that was rejected.</summary>
    public string Field { get; }

    /// <summary>Program or section header index; -1 for the file header.</summary>
    public int Index { get; }

    /// <summary>The rejected value.</summary>
    public ulong Value { get; }
}
