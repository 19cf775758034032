using VirtioRpmsg.Harness;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg bench --cold-start AOT_RPMSG</c>: this program (run by the JIT) against a NativeAOT rpmsg binary,
/// measured by <see cref="ColdStartBenchmark"/>; writes the section the benchmark report includes.
/// </summary>
internal static class ColdStartCommand
{
    public static int Run(FileInfo aot, int runs, bool quick, string? output, CancellationToken ct)
    {
        // The comparison needs both builds: this process is the JIT one only when its JIT compiled something
        // (not IsDynamicCodeSupported: PublishAot turns that switch off in the JIT build too).
        if (System.Runtime.JitInfo.GetCompiledMethodCount() == 0)
            throw new CliFailure("--cold-start compares this program under the JIT with the NativeAOT binary: run it from the JIT build (dotnet run -c Release --project src/VirtioRpmsg.Cli -- bench --cold-start PATH)");
        if (!aot.Exists)
            throw new CliFailure($"--cold-start: no NativeAOT rpmsg binary at '{aot.FullName}' (bench/cold-start.sh publishes it)");
        string root = ReportCommand.FindRepositoryRoot(Directory.GetCurrentDirectory());
        string path = output ?? Path.Combine(root, "docs", ReportCommand.ColdStartFileName);
        var machine = MachineInfo.Collect();
        var started = DateTimeOffset.UtcNow;
        IReadOnlyList<string> jit = SimulatedRemoteProcessOptions.CurrentProcessCommand();
        IReadOnlyList<(string, IReadOnlyList<string>)> clis = [("JIT", jit), ("NativeAOT", [aot.FullName])];
        var results = ColdStartBenchmark.Run(clis, quick ? 2 : runs, quick ? 2_000 : 50_000, Console.Out, ct);
        // Paths relative to the repository, so the committed report names no build machine's folders.
        var shown = results.Select(r => r with { Command = r.Command.Select(a => Relative(root, a)).ToList() }).ToList();
        string command = "dotnet run -c Release --project src/VirtioRpmsg.Cli -- bench --cold-start " + Relative(root, aot.FullName) + (quick ? " --quick" : "");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, ColdStartReportWriter.Render(shown, machine, started, command));
        Console.WriteLine($"wrote {path}");
        return ExitCodes.Success;
    }

    private static string Relative(string root, string path) =>
        Path.IsPathRooted(path) && Path.GetFullPath(path).StartsWith(Path.GetFullPath(root), StringComparison.Ordinal) ? Path.GetRelativePath(root, path) : path;
}
