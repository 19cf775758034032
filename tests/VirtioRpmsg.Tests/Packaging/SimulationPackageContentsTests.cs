namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Lists what <c>dotnet pack</c> puts in the VirtioRpmsg.Simulation package: besides what every package carries
/// (<see cref="PackageContentsTestBase{TPackage}"/>), no native asset (the shim comes with the library) and a
/// dependency on the library of the same version.
/// </summary>
public sealed class SimulationPackageContentsTests(SimulationPackage package) : PackageContentsTestBase<SimulationPackage>(package)
{
    protected override string DescriptionWord => "simulated";

    protected override IReadOnlyList<string> RequiredTags => ["rpmsg", "simulation"];

    protected override string ReadmeMentions => "SimulatedRemoteChild";

    protected override string SourceFile => "SimulatedRemoteChild.cs";

    [PackagingFact]
    public void Pack_Package_HasNoNativeAssetAndNoCopyOfTheLibrary()
    {
        Package.AssertPacked();
        Assert.DoesNotContain(Package.Entries.Keys, k => k.StartsWith("runtimes/", StringComparison.Ordinal) || k.EndsWith("/VirtioRpmsg.dll", StringComparison.Ordinal));
    }

    [PackagingFact]
    public void Pack_Nuspec_DependsOnTheLibraryOfTheSameVersion()
    {
        var library = Assert.Single(DependencyGroup().Elements(), d => d.Attribute("id")?.Value == "VirtioRpmsg");
        Assert.Equal(Package.MetadataValue("version"), library.Attribute("version")?.Value);
    }
}
