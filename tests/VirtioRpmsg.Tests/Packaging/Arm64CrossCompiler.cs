namespace VirtioRpmsg.Tests.Packaging;

/// <summary>
/// Whether the ARM64 cross compiler that <c>dotnet pack</c> of the library needs (the linux-arm64 shim) is
/// here, and whether its absence skips or fails the tests that pack the library.
/// Found like the library's build finds it: <c>$NativeCompilerLinuxArm64</c> (an MSBuild property when set in
/// the environment) or <c>aarch64-linux-gnu-gcc</c>, on <c>PATH</c> unless it is a path.
/// With <c>CI=true</c> (<c>.ci/run</c>) it is required: the tests run and fail without it.
/// </summary>
public static class Arm64CrossCompiler
{
    public const string AptPackage = "gcc-aarch64-linux-gnu";

    /// <summary>The compiler the library's build uses for linux-arm64.</summary>
    public static string Name { get; } = Environment.GetEnvironmentVariable("NativeCompilerLinuxArm64") is { Length: > 0 } c ? c : "aarch64-linux-gnu-gcc";

    public static bool IsInstalled { get; } = Find(Name) is not null;

    /// <summary>CI runs the packaging tests whatever happens: a missing compiler there is a failure, not a skip.</summary>
    public static bool IsRequired { get; } = Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>Why tests that pack the library are skipped here, or null when they run.</summary>
    public static string? SkipReason { get; } = IsInstalled || IsRequired
        ? null
        : $"{Name} not installed: apt-get install {AptPackage}; CI runs these (CI=true makes them required)";

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
