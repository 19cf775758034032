namespace VirtioRpmsg.Lifecycle;

/// <summary>A section header with its name resolved. File ranges of sections with file contents were checked.</summary>
public sealed record ElfSection(int Index, string Name, uint Type, ulong Flags, ulong Address, ulong FileOffset, ulong Size)
{
    /// <summary>sh_type of a section with no file contents (.bss).</summary>
    public const uint ShtNobits = 8;

    /// <summary>True when the section occupies bytes in the file.</summary>
    public bool HasFileData => Type != ShtNobits && Type != 0;
}
