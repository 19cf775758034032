namespace VirtioRpmsg.Lifecycle;

/// <summary>A program header. PT_LOAD ones have been checked: file range inside the file, filesz &lt;= memsz, no wrap, no overlap.</summary>
public sealed record ElfSegment(int Index, uint Type, uint Flags, ulong FileOffset, ulong VirtualAddress, ulong PhysicalAddress,
    ulong FileSize, ulong MemorySize, ulong Align)
{
    /// <summary>p_type of a loadable segment.</summary>
    public const uint PtLoad = 1;

    /// <summary>True for PT_LOAD.</summary>
    public bool IsLoad => Type == PtLoad;
}
