using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>Proves the run is on the architecture it claims and loads the matching native shim.</summary>
public static class PlatformChecks
{
    private const ushort ElfMachineX64 = 62;
    private const ushort ElfMachineAArch64 = 183;

    public static IEnumerable<SmokeCheck> All(string? expectedArchitecture)
    {
        if (expectedArchitecture is not null)
            yield return new("Platform: process architecture is " + expectedArchitecture, () => ArchitectureIs(expectedArchitecture));
        yield return new("Platform: libvrpmsg.so beside the app is an ELF for this architecture", ShimMatchesProcess);
    }

    private static void ArchitectureIs(string expected)
    {
        var want = expected.ToLowerInvariant() switch
        {
            "arm64" => Architecture.Arm64,
            "x64" => Architecture.X64,
            _ => throw new SmokeFailure($"--expect-arch '{expected}' is not arm64 or x64"),
        };
        Expect.Equal(want, RuntimeInformation.ProcessArchitecture, "RuntimeInformation.ProcessArchitecture");
    }

    private static void ShimMatchesProcess()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "libvrpmsg.so");
        Expect.True(File.Exists(path), $"'{path}' does not exist");
        byte[] header = new byte[20];
        using (var f = File.OpenRead(path))
            f.ReadExactly(header);
        Expect.True(header[0] == 0x7F && header.AsSpan(1, 3).SequenceEqual("ELF"u8), $"'{path}' is not an ELF file");
        Expect.Equal((byte)2, header[4], "EI_CLASS (2 = ELF64)");
        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(18));
        ushort want = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.Arm64 => ElfMachineAArch64,
            Architecture.X64 => ElfMachineX64,
            var other => throw new SmokeFailure($"no native shim is built for {other}"),
        };
        Expect.Equal(want, machine, "e_machine of libvrpmsg.so");
    }
}
