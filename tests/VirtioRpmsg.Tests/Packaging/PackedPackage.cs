using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.Metadata;
using System.Xml.Linq;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Runs <c>dotnet pack --no-build</c> of one packable project under src/ once (the test build has just built it
/// in the same configuration) into a temporary folder and keeps the package and symbols package contents.
/// One fixture per package: <see cref="LibraryPackage"/>, <see cref="SimulationPackage"/>.
/// A failed pack is kept as <see cref="Failure"/> so every test fails with MSBuild's own explanation.
/// A package marked <see cref="NeedsArm64CrossCompilerAttribute"/> is not packed where its tests are skipped
/// (<see cref="Arm64CrossCompiler.SkipReason"/>); with <c>CI=true</c> and no compiler it is a failure that says so.
/// </summary>
public abstract class PackedPackage : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
    private static readonly TimeSpan PackBound = TimeSpan.FromMinutes(5);

    // Custom debug information kind of a portable PDB document's embedded source.
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");
    private readonly string _outDir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-pack-" + Guid.NewGuid().ToString("N"));

    protected PackedPackage(string id)
    {
        Id = id;
        Directory.CreateDirectory(_outDir);
        bool needsArm64 = GetType().IsDefined(typeof(NeedsArm64CrossCompilerAttribute), inherit: false);
        if (needsArm64 && Arm64CrossCompiler.SkipReason is { } skipped)
        {
            Failure = "not packed: " + skipped; // the tests are skipped at discovery; this only guards a test that is not.
            return;
        }
        string project = Path.Combine(FindRepositoryRoot(), "src", id, id + ".csproj");
        var (exitCode, output) = RunPack(project, _outDir);
        var packages = Directory.GetFiles(_outDir, id + ".*.nupkg");
        var symbols = Directory.GetFiles(_outDir, id + ".*.snupkg");
        if (exitCode != 0 || packages.Length != 1 || symbols.Length != 1)
        {
            // MSBuild's error lines say what is missing (for instance: apt-get install gcc-aarch64-linux-gnu).
            var errors = output.Split('\n').Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).Distinct();
            string ci = needsArm64 && !Arm64CrossCompiler.IsInstalled
                ? $"CI=true: the packaging tests are required here, and '{Arm64CrossCompiler.Name}' (the linux-arm64 shim) is not on PATH or finds no C library headers: apt-get install {Arm64CrossCompiler.AptPackage}.\n"
                : "";
            Failure = ci + $"dotnet pack exited with {exitCode} and produced {packages.Length} .nupkg / {symbols.Length} .snupkg:\n{string.Join('\n', errors)}\n--- full output ---\n{output}";
            return;
        }
        PackageFileName = Path.GetFileName(packages[0]);
        Entries = ReadEntries(packages[0]);
        SymbolEntries = ReadEntries(symbols[0]);
        string nuspecName = Entries.Keys.Single(k => k.EndsWith(".nuspec", StringComparison.Ordinal) && !k.Contains('/'));
        using var nuspecStream = new MemoryStream(Entries[nuspecName]);
        var nuspec = XDocument.Load(nuspecStream);
        Metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    /// <summary>The package id, also the project's folder and name under src/.</summary>
    public string Id { get; }

    /// <summary>Null when the pack worked; otherwise why not.</summary>
    public string? Failure { get; }

    public string PackageFileName { get; } = "";

    /// <summary>Package entries by path ('/'-separated, as in the zip).</summary>
    public IReadOnlyDictionary<string, byte[]> Entries { get; } = new Dictionary<string, byte[]>();

    public IReadOnlyDictionary<string, byte[]> SymbolEntries { get; } = new Dictionary<string, byte[]>();

    /// <summary>The nuspec's &lt;metadata&gt; element.</summary>
    public XElement Metadata { get; } = new("metadata");

    /// <summary>The source documents of the symbols package's PDB, and those of them whose source is embedded.</summary>
    public (IReadOnlyList<string> Documents, IReadOnlySet<string> Embedded) PdbSources()
    {
        using var provider = MetadataReaderProvider.FromPortablePdbImage(System.Collections.Immutable.ImmutableArray.Create(SymbolEntries[$"lib/net10.0/{Id}.pdb"]));
        var reader = provider.GetMetadataReader();
        var embedded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in reader.CustomDebugInformation)
        {
            var info = reader.GetCustomDebugInformation(handle);
            if (info.Parent.Kind == HandleKind.Document && reader.GetGuid(info.Kind) == EmbeddedSourceKind)
                embedded.Add(reader.GetString(reader.GetDocument((DocumentHandle)info.Parent).Name));
        }
        return (reader.Documents.Select(d => reader.GetString(reader.GetDocument(d).Name)).ToList(), embedded);
    }

    /// <summary>Fails the calling test with the pack's explanation if the pack did not work.</summary>
    public void AssertPacked() => Assert.True(Failure is null, Failure);

    /// <summary>Text of the metadata child element named <paramref name="name"/>, or null.</summary>
    public string? MetadataValue(string name) => Metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    public void Dispose()
    {
        GC.SuppressFinalize(this);
        try
        {
            Directory.Delete(_outDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    /// <summary>Runs <c>dotnet pack --no-build</c> of <paramref name="project"/> into <paramref name="outDir"/>, with extra MSBuild arguments.</summary>
    internal static (int ExitCode, string Output) RunPack(string project, string outDir, params string[] extra)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "pack", project, "--no-build", "-c", Configuration, "-o", outDir, "-nologo", "-nodeReuse:false" }.Concat(extra))
            psi.ArgumentList.Add(a);
        // The test host's MSBuild variables would point the child at the test run's MSBuild instance.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet pack");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(PackBound))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, $"dotnet pack did not finish within {PackBound.TotalMinutes} minutes and was killed.\n{stdout.Result}{stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static Dictionary<string, byte[]> ReadEntries(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var e in zip.Entries)
        {
            using var s = e.Open();
            using var copy = new MemoryStream();
            s.CopyTo(copy);
            entries[e.FullName] = copy.ToArray();
        }
        return entries;
    }

    internal static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VirtioRpmsg.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"No VirtioRpmsg.sln above '{AppContext.BaseDirectory}'.");
    }
}
