using System.Globalization;

namespace VirtioRpmsg.Harness;

/// <summary>
/// The `report` command line (shared by the benchmark program and the rpmsg CLI's `bench`):
/// <c>report [--quick] [--out FILE.md] [--svg FILE.svg] [--scenario NAME]... [--host-cpu N] [--remote-cpu N]
/// [--notes FILE.md] [--micro-results DIR]</c>. Defaults write docs/benchmarks.md and docs/latency.svg
/// under the repository root (found by walking up to VirtioRpmsg.sln, else the current directory).
/// </summary>
public static class ReportCommand
{
    /// <summary>The usage text.</summary>
    public const string Usage =
        "usage: report [--quick] [--out FILE.md] [--svg FILE.svg] [--scenario NAME]... [--host-cpu N] [--remote-cpu N] [--notes FILE.md] [--micro-results DIR]";

    /// <summary>The cold-start section's file under docs/ (<see cref="ColdStartReportWriter"/>).</summary>
    public const string ColdStartFileName = "benchmarks-cold-start.md";

    /// <summary>Parses <paramref name="args"/> (without the leading "report").</summary>
    /// <exception cref="ArgumentException">An unknown option or a missing or malformed value (the message names it).</exception>
    public static ReportOptions Parse(IReadOnlyList<string> args, string? root = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        root ??= FindRepositoryRoot(Directory.GetCurrentDirectory());
        var options = new ReportOptions
        {
            MarkdownPath = Path.Combine(root, "docs", "benchmarks.md"),
            SvgPath = Path.Combine(root, "docs", "latency.svg"),
            NotesPath = Path.Combine(root, "docs", "benchmarks-notes.md"),
            ColdStartPath = Path.Combine(root, "docs", ColdStartFileName),
            MicroResultsDirectory = Path.Combine(root, "BenchmarkDotNet.Artifacts", "results"),
        };
        var scenarios = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"option '{arg}' needs a value");
            options = arg switch
            {
                "--quick" => options with { Quick = true },
                "--out" => options with { MarkdownPath = Value() },
                "--svg" => options with { SvgPath = Value() },
                "--notes" => options with { NotesPath = Value() },
                "--micro-results" => options with { MicroResultsDirectory = Value() },
                "--host-cpu" => options with { HostCpu = Cpu(arg, Value()) },
                "--remote-cpu" => options with { RemoteCpu = Cpu(arg, Value()) },
                "--scenario" => AddScenario(options, scenarios, Value()),
                _ => throw new ArgumentException($"unknown option '{arg}'; {Usage}"),
            };
        }
        string command = "dotnet run -c Release --project bench/VirtioRpmsg.Benchmarks -- report" + (args.Count > 0 ? " " + string.Join(' ', args) : "");
        return options with { Scenarios = scenarios.Count > 0 ? scenarios : null, Command = command };
    }

    /// <summary>Parses, runs and writes the report. Returns 0, or 1 with a one-line reason on <paramref name="error"/>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, ScenarioRegistry? registry = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var options = Parse(args);
            var report = ReportRunner.Run(options, registry ?? ScenarioRegistry.CreateDefault(), output, cancellationToken);
            output.WriteLine($"wrote {options.MarkdownPath} and {options.SvgPath} ({report.Duration.TotalSeconds:F0} s)");
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or TimeoutException or InvalidOperationException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            error.WriteLine("report failed: " + e.Message.Split('\n')[0]);
            return 1;
        }
    }

    /// <summary>The nearest directory at or above <paramref name="start"/> holding VirtioRpmsg.sln; <paramref name="start"/> if none.</summary>
    public static string FindRepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VirtioRpmsg.sln")))
                return dir.FullName;
        }
        return start;
    }

    private static ReportOptions AddScenario(ReportOptions options, List<string> scenarios, string name)
    {
        scenarios.Add(name);
        return options;
    }

    private static int Cpu(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int cpu)
            ? cpu
            : throw new ArgumentException($"option '{option}' value '{value}' is not a CPU number");
}
