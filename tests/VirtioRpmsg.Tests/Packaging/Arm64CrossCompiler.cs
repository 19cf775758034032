namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Whether the ARM64 cross compiler that <c>dotnet pack</c> of the library needs (the linux-arm64 shim) is
/// here, and whether its absence skips or fails the tests that pack the library.
/// Found like the library's build finds it: <c>$NativeCompilerLinuxArm64</c> (an MSBuild property when set in
/// the environment) or <c>aarch64-linux-gnu-gcc</c>, on <c>PATH</c> unless it is a path.
/// It counts as here only when it also finds its C library's headers (the build's check too).
/// With <c>CI=true</c> (<c>.ci/run</c>) it is required: the tests run and fail without it.
/// </summary>
public static class Arm64CrossCompiler
{
    public const string AptPackage = "gcc-aarch64-linux-gnu libc6-dev-arm64-cross";

    /// <summary>The compiler the library's build uses for linux-arm64.</summary>
    public static string Name { get; } = Environment.GetEnvironmentVariable("NativeCompilerLinuxArm64") is { Length: > 0 } c ? c : "aarch64-linux-gnu-gcc";

    /// <summary>On PATH and able to compile against its C library, as the library's build checks before it builds the shim.</summary>
    public static bool IsInstalled { get; } = Find(Name) is { } path && FindsItsHeaders(path);

    /// <summary>CI runs the packaging tests whatever happens: a missing compiler there is a failure, not a skip.</summary>
    public static bool IsRequired { get; } = Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>Why tests that pack the library are skipped here, or null when they run.</summary>
    public static string? SkipReason { get; } = IsInstalled || IsRequired
        ? null
        : $"{Name} not installed (or without its C library headers): apt-get install {AptPackage}; CI runs these (CI=true makes them required)";

    // A cross gcc installed without its recommended libc6-dev-arm64-cross has no headers: the build skips the shim then.
    private static bool FindsItsHeaders(string compiler)
    {
        var start = new System.Diagnostics.ProcessStartInfo(compiler, ["-fsyntax-only", "-x", "c", "-"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        process.StandardInput.Write("#include <sys/eventfd.h>\n#include <linux/membarrier.h>\n");
        process.StandardInput.Close();
        var drained = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill();
            return false;
        }
        drained.Wait();
        return process.ExitCode == 0;
    }

    private static string? Find(string name)
    {
        if (name.Contains('/'))
            return IsExecutable(name) ? name : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (IsExecutable(candidate))
                return candidate;
        }
        return null;
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
