using System.Xml.Linq;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Every project in the repository restores from the machine's package sources alone. A nuget.config on its path
/// that names a local folder (as the consumer check's <c>artifacts/local-feed</c> once did) breaks the README's test
/// command on a fresh machine: with an empty package cache NuGet reads every source, and a missing folder is NU1301.
/// With a warm cache the restore never looks, so only a check like this one catches it.
/// </summary>
public sealed class NuGetSourceTests
{
    private static readonly string Root = PackedPackage.FindRepositoryRoot();

    public static TheoryData<string> BuiltProjects()
    {
        var data = new TheoryData<string>();
        foreach (string top in new[] { "src", "tests", "bench", "samples" })
        {
            foreach (string project in Directory.EnumerateFiles(Path.Combine(Root, top), "*.csproj", SearchOption.AllDirectories))
            {
                string dir = Path.GetDirectoryName(project)!;
                // Build output (BenchmarkDotNet's generated projects, say) is not the solution's.
                var parts = Path.GetRelativePath(Root, dir).Split(Path.DirectorySeparatorChar);
                if (!parts.Contains("bin") && !parts.Contains("obj"))
                    data.Add(Path.GetRelativePath(Root, project));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BuiltProjects))]
    public void Project_RestoresWithoutALocalFolderSource(string project)
    {
        foreach (string config in ConfigsAbove(Path.GetDirectoryName(Path.Combine(Root, project))!))
        {
            foreach (var add in XDocument.Load(config).Descendants("packageSources").Elements("add"))
            {
                string value = (string?)add.Attribute("value") ?? "";
                Assert.True(value.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("http://", StringComparison.OrdinalIgnoreCase),
                    $"{Path.GetRelativePath(Root, config)} adds the local source '{value}' to {project}'s restore; pass it to the one build that needs it (RestoreAdditionalProjectSources)");
            }
        }
    }

    // nuget.config files NuGet reads for a project in `dir`, up to the repository root (any case of the name).
    private static IEnumerable<string> ConfigsAbove(string dir)
    {
        for (var d = new DirectoryInfo(dir); d is not null && d.FullName.Length >= Root.Length; d = d.Parent)
        {
            foreach (var file in d.EnumerateFiles())
            {
                if (file.Name.Equals("nuget.config", StringComparison.OrdinalIgnoreCase))
                    yield return file.FullName;
            }
        }
    }
}
