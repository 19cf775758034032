using System.Buffers.Binary;
using System.Reflection.Metadata;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Lists what <c>dotnet pack</c> puts in the VirtioRpmsg package: the assembly, both runtimes' native
/// shims (checked by ELF machine, not only by name), the README and the nuspec metadata.
/// </summary>
public sealed class PackageContentsTests(LibraryPackage package) : IClassFixture<LibraryPackage>
{
    private const ushort ElfMachineX64 = 62;
    private const ushort ElfMachineAArch64 = 183;

    // Custom debug information kind of a portable PDB document's embedded source.
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");

    [Fact]
    public void Pack_LibraryProject_ProducesPackageAndSymbolsPackage()
    {
        package.AssertPacked();
        Assert.StartsWith("VirtioRpmsg.", package.PackageFileName);
        Assert.Contains("lib/net10.0/VirtioRpmsg.pdb", package.SymbolEntries.Keys);
    }

    [Fact]
    public void Pack_Package_ContainsAssemblyAndXmlDocs()
    {
        package.AssertPacked();
        Assert.Contains("lib/net10.0/VirtioRpmsg.dll", package.Entries.Keys);
        Assert.Contains("lib/net10.0/VirtioRpmsg.xml", package.Entries.Keys);
    }

    [Theory]
    [InlineData("linux-x64", ElfMachineX64)]
    [InlineData("linux-arm64", ElfMachineAArch64)]
    public void Pack_Package_ContainsNativeShimForRuntime(string rid, ushort expectedMachine)
    {
        package.AssertPacked();
        string path = $"runtimes/{rid}/native/libvrpmsg.so";
        Assert.True(package.Entries.TryGetValue(path, out var elf), $"'{path}' is missing; the package has: {string.Join(", ", package.Entries.Keys)}");
        Assert.True(elf!.Length > 64 && elf[0] == 0x7F && elf.AsSpan(1, 3).SequenceEqual("ELF"u8), $"'{path}' is not an ELF file");
        Assert.Equal(2, elf[4]); // ELFCLASS64
        Assert.Equal(expectedMachine, BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(18)));
    }

    [Fact]
    public void Pack_Package_HasNoNativeAssetOutsideTheTwoRuntimes()
    {
        package.AssertPacked();
        var native = package.Entries.Keys.Where(k => k.StartsWith("runtimes/", StringComparison.Ordinal)).Order();
        Assert.Equal(["runtimes/linux-arm64/native/libvrpmsg.so", "runtimes/linux-x64/native/libvrpmsg.so"], native);
    }

    [Fact]
    public void Pack_Package_ContainsTheReadmeTheNuspecNames()
    {
        package.AssertPacked();
        Assert.Equal("README.md", package.MetadataValue("readme"));
        Assert.Contains("README.md", package.Entries.Keys);
        Assert.Contains("linux-arm64", System.Text.Encoding.UTF8.GetString(package.Entries["README.md"]));
    }

    [Fact]
    public void Pack_Nuspec_HasIdDescriptionLicenseAndTags()
    {
        package.AssertPacked();
        Assert.Equal("VirtioRpmsg", package.MetadataValue("id"));
        Assert.False(string.IsNullOrWhiteSpace(package.MetadataValue("version")));
        Assert.Contains("rpmsg", package.MetadataValue("description") ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrWhiteSpace(package.MetadataValue("authors")));
        var license = package.Metadata.Elements().Single(e => e.Name.LocalName == "license");
        Assert.Equal("expression", license.Attribute("type")?.Value);
        Assert.Equal("MIT", license.Value);
        var tags = (package.MetadataValue("tags") ?? "").Split(' ');
        Assert.Contains("rpmsg", tags);
        Assert.Contains("arm64", tags);
    }

    [Fact]
    public void Pack_Nuspec_DependsOnLoggingAbstractionsForNet10()
    {
        package.AssertPacked();
        var groups = package.Metadata.Descendants().Where(e => e.Name.LocalName == "group").ToList();
        var group = Assert.Single(groups);
        Assert.Equal("net10.0", group.Attribute("targetFramework")?.Value);
        Assert.Contains(group.Elements(), d => d.Attribute("id")?.Value == "Microsoft.Extensions.Logging.Abstractions");
    }

    [Fact]
    public void Pack_SymbolsPackage_PdbEmbedsTheSources()
    {
        package.AssertPacked();
        using var provider = MetadataReaderProvider.FromPortablePdbImage(System.Collections.Immutable.ImmutableArray.Create(package.SymbolEntries["lib/net10.0/VirtioRpmsg.pdb"]));
        var reader = provider.GetMetadataReader();
        var withSource = new HashSet<string>();
        foreach (var handle in reader.CustomDebugInformation)
        {
            var info = reader.GetCustomDebugInformation(handle);
            if (info.Parent.Kind == HandleKind.Document && reader.GetGuid(info.Kind) == EmbeddedSourceKind)
                withSource.Add(reader.GetString(reader.GetDocument((DocumentHandle)info.Parent).Name));
        }
        Assert.Contains(withSource, name => name.EndsWith("SharedMemoryRegion.cs", StringComparison.Ordinal));
        Assert.Equal(reader.Documents.Count, withSource.Count);
    }
}
