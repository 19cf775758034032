namespace VirtioRpmsg.Lifecycle;

/// <summary>A program header. PT_LOAD ones have been checked: file range inside the file, filesz &lt;= memsz, no wrap, no overlap.</summary>
/// <param name="Index">Position in the program header table.</param>
/// <param name="Type">p_type (PT_LOAD = 1).</param>
/// <param name="Flags">p_flags (execute 1, write 2, read 4).</param>
/// <param name="FileOffset">p_offset: where the segment's bytes are in the file.</param>
/// <param name="VirtualAddress">p_vaddr.</param>
/// <param name="PhysicalAddress">p_paddr: the device address the loader places the segment at.</param>
/// <param name="FileSize">p_filesz: bytes copied from the file.</param>
/// <param name="MemorySize">p_memsz: bytes occupied in memory; the rest after FileSize is zero-filled.</param>
/// <param name="Align">p_align.</param>
public sealed record ElfSegment(int Index, uint Type, uint Flags, ulong FileOffset, ulong VirtualAddress, ulong PhysicalAddress,
    ulong FileSize, ulong MemorySize, ulong Align)
{
    /// <summary>p_type of a loadable segment.</summary>
    public const uint PtLoad = 1;

    /// <summary>True for PT_LOAD.</summary>
    public bool IsLoad => Type == PtLoad;
}
