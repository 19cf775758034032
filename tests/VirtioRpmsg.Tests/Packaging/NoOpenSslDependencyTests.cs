using System.Reflection;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Neither package references System.Security.Cryptography: on Linux it loads OpenSSL, which a board's root file system
/// (and the ARM64 smoke test's sysroot) may not have. A SHA-256 of a path in the simulated remote's start-up once aborted
/// the remote there (CI's ARM64 smoke, "exited with code 134").
/// </summary>
public class NoOpenSslDependencyTests
{
    public static TheoryData<string> Assemblies => new()
    {
        typeof(RpmsgLink).Assembly.GetName().Name!,
        typeof(SimulatedRemoteChild).Assembly.GetName().Name!,
    };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Package_ReferencesNoCryptography(string name)
    {
        var assembly = Assembly.Load(name);
        var references = assembly.GetReferencedAssemblies().Select(a => a.Name).ToArray();
        Assert.DoesNotContain("System.Security.Cryptography", references);
    }
}
