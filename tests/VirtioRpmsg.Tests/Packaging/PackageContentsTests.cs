using System.Buffers.Binary;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Lists what <c>dotnet pack</c> puts in the VirtioRpmsg package: besides what every package carries
/// (<see cref="PackageContentsTestBase{TPackage}"/>), both runtimes' native shims (checked by ELF machine, not
/// only by name) and the logging dependency.
/// </summary>
public sealed class PackageContentsTests(LibraryPackage package) : PackageContentsTestBase<LibraryPackage>(package)
{
    private const ushort ElfMachineX64 = 62;
    private const ushort ElfMachineAArch64 = 183;

    protected override string DescriptionWord => "rpmsg";

    protected override IReadOnlyList<string> RequiredTags => ["rpmsg", "arm64"];

    protected override string ReadmeMentions => "linux-arm64";

    protected override string SourceFile => "SharedMemoryRegion.cs";

    [PackagingTheory]
    [InlineData("linux-x64", ElfMachineX64)]
    [InlineData("linux-arm64", ElfMachineAArch64)]
    public void Pack_Package_ContainsNativeShimForRuntime(string rid, ushort expectedMachine)
    {
        Package.AssertPacked();
        string path = $"runtimes/{rid}/native/libvrpmsg.so";
        Assert.True(Package.Entries.TryGetValue(path, out var elf), $"'{path}' is missing; the package has: {string.Join(", ", Package.Entries.Keys)}");
        Assert.True(elf!.Length > 64 && elf[0] == 0x7F && elf.AsSpan(1, 3).SequenceEqual("ELF"u8), $"'{path}' is not an ELF file");
        Assert.Equal(2, elf[4]); // ELFCLASS64
        Assert.Equal(expectedMachine, BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(18)));
    }

    [PackagingFact]
    public void Pack_Package_HasNoNativeAssetOutsideTheTwoRuntimes()
    {
        Package.AssertPacked();
        var native = Package.Entries.Keys.Where(k => k.StartsWith("runtimes/", StringComparison.Ordinal)).Order();
        Assert.Equal(["runtimes/linux-arm64/native/libvrpmsg.so", "runtimes/linux-x64/native/libvrpmsg.so"], native);
    }

    [PackagingFact]
    public void Pack_Nuspec_DependsOnLoggingAbstractionsForNet10() =>
        Assert.Contains(DependencyGroup().Elements(), d => d.Attribute("id")?.Value == "Microsoft.Extensions.Logging.Abstractions");
}
