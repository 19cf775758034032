using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>A small firmware image shared by the ELF and loader tests.</summary>
internal static class TestFirmware
{
    public const ulong CodeAddress = 0x1000_0000;
    public const ulong CodeMemorySize = 0x400;
    public const ulong TableAddress = 0x1000_1000;

    /// <summary>256 bytes of "code" (i * 7 + 1), zero-filled up to 0x400 when loaded.</summary>
    public static byte[] Code { get; } = Enumerable.Range(0, 256).Select(i => (byte)(i * 7 + 1)).ToArray();

    /// <summary>Segment 0: code + .bss; segment 1: the OpenAMP resource table; plus an unloaded .comment section.</summary>
    public static ElfTestImage Build(bool is64, bool withResourceTable = true)
    {
        var builder = new ElfTestBuilder(is64)
            .AddSegment(CodeAddress, Code, CodeMemorySize)
            .AddSegment(TableAddress, ResourceTableBuilder.BuildOpenAmpLinux(), 88)
            .AddSectionInSegment(".text", 0, 0, Code.Length)
            .AddSection(".comment", "test firmware\0"u8.ToArray());
        if (withResourceTable)
            builder.AddSectionInSegment(ElfImage.ResourceTableSectionName, 1, 0, 88);
        return builder.Build();
    }
}
