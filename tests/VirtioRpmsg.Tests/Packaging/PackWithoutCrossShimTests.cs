using System.Runtime.InteropServices;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// A package is never produced without both runtimes' shims (issue 15, item 1): <c>dotnet pack</c> with the other
/// runtime's cross compiler (linux-arm64's on an x64 machine) named as one that does not exist fails, says why, and
/// leaves no package. Runs everywhere, with or without the real cross compiler. The shims go to a folder of the test's
/// own and so does the nuspec, so the packaging fixture's pack of the same project, which may run meanwhile, and the
/// build's own shims are not touched (the build deletes an unavailable runtime's shim from its output folder so that a
/// stale one is never packed).
/// </summary>
public sealed class PackWithoutCrossShimTests : IDisposable
{
    // The runtime this machine's cc builds, and the one a cross compiler builds (the csproj's NativeRid items).
    private static readonly bool HostIsArm64 = RuntimeInformation.OSArchitecture == Architecture.Arm64;
    private static readonly string HostRid = HostIsArm64 ? "linux-arm64" : "linux-x64";
    private static readonly string CrossRid = HostIsArm64 ? "linux-x64" : "linux-arm64";
    private static readonly string CrossCompilerProperty = HostIsArm64 ? "NativeCompilerLinuxX64" : "NativeCompilerLinuxArm64";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-nopack-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_dir))
                Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort, as the packaging fixture's: a temp folder left behind is harmless.
        }
    }

    [Fact]
    public void Pack_CrossCompilerMissing_FailsNamingTheShimAndProducesNoPackage()
    {
        string project = Path.Combine(PackedPackage.FindRepositoryRoot(), "src", "VirtioRpmsg", "VirtioRpmsg.csproj");
        string outDir = Path.Combine(_dir, "out");
        Directory.CreateDirectory(outDir);

        var (exitCode, output) = PackedPackage.RunPack(project, outDir,
            $"-p:{CrossCompilerProperty}=vrpmsg-test-no-such-gcc",
            $"-p:NativeOutDir={Path.Combine(_dir, "native")}/",
            $"-p:NuspecOutputPath={Path.Combine(_dir, "nuspec")}/");

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"cannot pack, the {CrossRid} native shim was not built because 'vrpmsg-test-no-such-gcc'", output);
        Assert.Empty(Directory.GetFiles(outDir, "*.nupkg"));
        // The host's shim was built (the failure is the missing runtime, not a broken build).
        Assert.True(File.Exists(Path.Combine(_dir, "native", HostRid, "libvrpmsg.so")), output);
    }
}
