namespace VirtioRpmsg.Harness;

/// <summary>What a report run measures and where it writes.</summary>
public sealed record ReportOptions
{
    /// <summary>A few thousand round trips per case (CI, tests): checks the harness, not the speed.</summary>
    public bool Quick { get; init; }

    /// <summary>The Markdown report to write (for example docs/benchmarks.md); null writes none.</summary>
    public string? MarkdownPath { get; init; }

    /// <summary>The SVG plot to write (for example docs/latency.svg); null writes none.</summary>
    public string? SvgPath { get; init; }

    /// <summary>The command line shown in the report as the way to reproduce it.</summary>
    public string Command { get; init; } = "dotnet run -c Release --project bench/VirtioRpmsg.Benchmarks -- report";

    /// <summary>CPU for the host side (and the measuring process of the baseline).</summary>
    public int HostCpu { get; init; }

    /// <summary>CPU for the remote side (and the echo process of the baseline).</summary>
    public int RemoteCpu { get; init; } = 1;

    /// <summary>Scenario names to run; null runs every registered one.</summary>
    public IReadOnlyList<string>? Scenarios { get; init; }

    /// <summary>A hand-written Markdown file (analysis of misses) included in the report when it exists.</summary>
    public string? NotesPath { get; init; }

    /// <summary>The cold-start section written by <c>rpmsg bench --cold-start</c>, included after the notes when it exists.</summary>
    public string? ColdStartPath { get; init; }

    /// <summary>A BenchmarkDotNet results directory whose *-report-github.md files are included when present.</summary>
    public string? MicroResultsDirectory { get; init; }

    /// <summary>Round trips per echo case (depth 1).</summary>
    public int EchoCount => Quick ? 2_000 : 200_000;

    /// <summary>Round trips per interrupt echo case (each is a cross-core wake-up, tens of microseconds).</summary>
    public int InterruptEchoCount => Quick ? 2_000 : 50_000;

    /// <summary>Round trips of the pipelined echo case.</summary>
    public int PipelinedCount => Quick ? 4_000 : 1_000_000;

    /// <summary>Messages per streaming case.</summary>
    public int StreamCount => Quick ? 20_000 : 2_000_000;

    /// <summary>Round trips per user-path case (busy-poll and hybrid; interrupt runs a quarter).</summary>
    public int UserPathCount => Quick ? 1_000 : 20_000;

    /// <summary>Unrecorded round trips before each echo case.</summary>
    public int Warmup => Quick ? 200 : 10_000;

    /// <summary>The least time each echo case's unrecorded round trips take (<see cref="EchoRequest.MinWarmupTime"/>).</summary>
    public TimeSpan EchoWarmupTime => Quick ? TimeSpan.Zero : TimeSpan.FromMilliseconds(500);

    /// <summary>Recorded round trips per C baseline metric.</summary>
    public int BaselineIterations => Quick ? 2_000 : 100_000;

    /// <summary>Round trips per metric of the C baseline probe run just before and after each echo and streaming case.</summary>
    public int ProbeIterations => Quick ? 500 : 5_000;
}
