namespace VirtioRpmsg.Lifecycle;

/// <summary>ELF file class (EI_CLASS): 32- or 64-bit.</summary>
public enum ElfClass : byte
{
    /// <summary>32-bit objects (ELFCLASS32), typical for Cortex-M/R firmware.</summary>
    Elf32 = 1,
    /// <summary>64-bit objects (ELFCLASS64).</summary>
    Elf64 = 2,
}
