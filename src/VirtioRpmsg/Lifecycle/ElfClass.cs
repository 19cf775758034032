namespace VirtioRpmsg.Lifecycle;

/// <summary>ELF file class (EI_CLASS): 32- or 64-bit.</summary>
public enum ElfClass : byte
{
    Elf32 = 1,
    Elf64 = 2,
}
