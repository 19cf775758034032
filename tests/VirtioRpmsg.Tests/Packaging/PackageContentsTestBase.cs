namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// What every package of the repository must carry, run against each (<see cref="PackageContentsTests"/>,
/// <see cref="SimulationPackageContentsTests"/>): the assembly and its XML docs, the symbols package with every
/// source embedded, the README the nuspec names, and the nuspec metadata.
/// </summary>
public abstract class PackageContentsTestBase<TPackage>(TPackage package) : IClassFixture<TPackage>
    where TPackage : PackedPackage
{
    protected TPackage Package => package;

    /// <summary>A word the nuspec description must contain.</summary>
    protected abstract string DescriptionWord { get; }

    /// <summary>Tags the nuspec must have.</summary>
    protected abstract IReadOnlyList<string> RequiredTags { get; }

    /// <summary>Text the package README must mention (it is the package's own README, not another one).</summary>
    protected abstract string ReadmeMentions { get; }

    /// <summary>A source file of the assembly that the PDB must embed.</summary>
    protected abstract string SourceFile { get; }

    [PackagingFact]
    public void Pack_Project_ProducesPackageAndSymbolsPackage()
    {
        package.AssertPacked();
        Assert.StartsWith(package.Id + ".", package.PackageFileName);
        Assert.Contains($"lib/net10.0/{package.Id}.pdb", package.SymbolEntries.Keys);
    }

    [PackagingFact]
    public void Pack_Package_ContainsAssemblyAndXmlDocs()
    {
        package.AssertPacked();
        Assert.Contains($"lib/net10.0/{package.Id}.dll", package.Entries.Keys);
        Assert.Contains($"lib/net10.0/{package.Id}.xml", package.Entries.Keys);
    }

    [PackagingFact]
    public void Pack_Package_ContainsTheReadmeTheNuspecNames()
    {
        package.AssertPacked();
        Assert.Equal("README.md", package.MetadataValue("readme"));
        Assert.Contains("README.md", package.Entries.Keys);
        Assert.Contains(ReadmeMentions, System.Text.Encoding.UTF8.GetString(package.Entries["README.md"]));
    }

    [PackagingFact]
    public void Pack_Nuspec_HasIdDescriptionLicenseAndTags()
    {
        package.AssertPacked();
        Assert.Equal(package.Id, package.MetadataValue("id"));
        Assert.False(string.IsNullOrWhiteSpace(package.MetadataValue("version")));
        Assert.Contains(DescriptionWord, package.MetadataValue("description") ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrWhiteSpace(package.MetadataValue("authors")));
        var license = package.Metadata.Elements().Single(e => e.Name.LocalName == "license");
        Assert.Equal("expression", license.Attribute("type")?.Value);
        Assert.Equal("MIT", license.Value);
        var tags = (package.MetadataValue("tags") ?? "").Split(' ');
        foreach (var tag in RequiredTags)
            Assert.Contains(tag, tags);
    }

    [PackagingFact]
    public void Pack_SymbolsPackage_PdbEmbedsTheSources()
    {
        package.AssertPacked();
        var (documents, embedded) = package.PdbSources();
        Assert.Contains(embedded, name => name.EndsWith(SourceFile, StringComparison.Ordinal));
        Assert.Equal(documents.Count, embedded.Count);
    }

    /// <summary>The nuspec's only dependency group (net10.0).</summary>
    protected System.Xml.Linq.XElement DependencyGroup()
    {
        package.AssertPacked();
        var group = Assert.Single(package.Metadata.Descendants(), e => e.Name.LocalName == "group");
        Assert.Equal("net10.0", group.Attribute("targetFramework")?.Value);
        return group;
    }
}
