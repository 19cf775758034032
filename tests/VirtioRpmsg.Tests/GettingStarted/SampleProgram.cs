using System.Diagnostics;

namespace VirtioRpmsg.Tests.GettingStarted;

/// <summary>One program of samples/GettingStarted: its source, and a bounded run of its build (copied next to the tests).</summary>
internal static class SampleProgram
{
    /// <summary>The sample projects, by folder name under samples/GettingStarted.</summary>
    public static readonly string[] Names = ["Link", "Board", "Simulated"];

    public static string SourceOf(string name) => File.ReadAllText(Path.Combine(RepositoryRoot(), "samples", "GettingStarted", name, "Program.cs"));

    public static string GettingStartedDoc() => File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "getting-started.md"));

    /// <summary>Runs GettingStarted.NAME.dll in <paramref name="workingDirectory"/>; kills it after <paramref name="limit"/>. Also returns its process id.</summary>
    public static (int ExitCode, string Stdout, string Stderr, int ProcessId) Run(string name, string workingDirectory, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, $"GettingStarted.{name}.dll"));
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start sample {name}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"sample {name} did not exit within {limit.TotalSeconds} s\nstdout: {stdout.Result}\nstderr: {stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result, process.Id);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VirtioRpmsg.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"No VirtioRpmsg.sln above '{AppContext.BaseDirectory}'.");
    }
}
