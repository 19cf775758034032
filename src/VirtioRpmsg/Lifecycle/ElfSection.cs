namespace VirtioRpmsg.Lifecycle;

/// <summary>A section header with its name resolved. File ranges of sections with file contents were checked.</summary>
/// <param name="Index">Position in the section header table.</param>
/// <param name="Name">Name from the section-name string table.</param>
/// <param name="Type">sh_type (e.g. SHT_PROGBITS = 1).</param>
/// <param name="Flags">sh_flags.</param>
/// <param name="Address">sh_addr: where the section is in the remote's memory.</param>
/// <param name="FileOffset">sh_offset: where its bytes are in the file.</param>
/// <param name="Size">sh_size in bytes.</param>
public sealed record ElfSection(int Index, string Name, uint Type, ulong Flags, ulong Address, ulong FileOffset, ulong Size)
{
    /// <summary>sh_type of a section with no file contents (.bss).</summary>
    public const uint ShtNobits = 8;

    /// <summary>True when the section occupies bytes in the file.</summary>
    public bool HasFileData => Type != ShtNobits && Type != 0;
}
