using System.Reflection.Metadata;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Lists what <c>dotnet pack</c> puts in the VirtioRpmsg.Simulation package: the assembly and its XML docs, no
/// native asset (the shim comes with the library), the README, the nuspec metadata and a dependency on the
/// library of the same version.
/// </summary>
public sealed class SimulationPackageContentsTests(SimulationPackage package) : IClassFixture<SimulationPackage>
{
    // Custom debug information kind of a portable PDB document's embedded source.
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");

    [Fact]
    public void Pack_SimulationProject_ProducesPackageAndSymbolsPackage()
    {
        package.AssertPacked();
        Assert.StartsWith("VirtioRpmsg.Simulation.", package.PackageFileName);
        Assert.Contains("lib/net10.0/VirtioRpmsg.Simulation.pdb", package.SymbolEntries.Keys);
    }

    [Fact]
    public void Pack_Package_ContainsAssemblyAndXmlDocsButNoNativeAsset()
    {
        package.AssertPacked();
        Assert.Contains("lib/net10.0/VirtioRpmsg.Simulation.dll", package.Entries.Keys);
        Assert.Contains("lib/net10.0/VirtioRpmsg.Simulation.xml", package.Entries.Keys);
        Assert.DoesNotContain(package.Entries.Keys, k => k.StartsWith("runtimes/", StringComparison.Ordinal) || k.EndsWith("VirtioRpmsg.dll", StringComparison.Ordinal));
    }

    [Fact]
    public void Pack_Package_ContainsTheReadmeTheNuspecNames()
    {
        package.AssertPacked();
        Assert.Equal("README.md", package.MetadataValue("readme"));
        Assert.Contains("SimulatedRemoteChild", System.Text.Encoding.UTF8.GetString(package.Entries["README.md"]));
    }

    [Fact]
    public void Pack_Nuspec_HasIdDescriptionLicenseAndTags()
    {
        package.AssertPacked();
        Assert.Equal("VirtioRpmsg.Simulation", package.MetadataValue("id"));
        Assert.Contains("simulated", package.MetadataValue("description") ?? "", StringComparison.OrdinalIgnoreCase);
        var license = package.Metadata.Elements().Single(e => e.Name.LocalName == "license");
        Assert.Equal("MIT", license.Value);
        Assert.Contains("simulation", (package.MetadataValue("tags") ?? "").Split(' '));
    }

    [Fact]
    public void Pack_Nuspec_DependsOnTheLibraryOfTheSameVersion()
    {
        package.AssertPacked();
        var group = Assert.Single(package.Metadata.Descendants().Where(e => e.Name.LocalName == "group"));
        Assert.Equal("net10.0", group.Attribute("targetFramework")?.Value);
        var library = Assert.Single(group.Elements(), d => d.Attribute("id")?.Value == "VirtioRpmsg");
        Assert.Equal(package.MetadataValue("version"), library.Attribute("version")?.Value);
    }

    [Fact]
    public void Pack_SymbolsPackage_PdbEmbedsTheSources()
    {
        package.AssertPacked();
        using var provider = MetadataReaderProvider.FromPortablePdbImage(System.Collections.Immutable.ImmutableArray.Create(package.SymbolEntries["lib/net10.0/VirtioRpmsg.Simulation.pdb"]));
        var reader = provider.GetMetadataReader();
        int withSource = 0;
        foreach (var handle in reader.CustomDebugInformation)
        {
            var info = reader.GetCustomDebugInformation(handle);
            if (info.Parent.Kind == HandleKind.Document && reader.GetGuid(info.Kind) == EmbeddedSourceKind)
                withSource++;
        }
        Assert.Equal(reader.Documents.Count, withSource);
        Assert.Contains(reader.Documents, d => reader.GetString(reader.GetDocument(d).Name).EndsWith("SimulatedRemoteChild.cs", StringComparison.Ordinal));
    }
}
