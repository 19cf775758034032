using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>
/// The cold-start benchmark (JIT against NativeAOT CLI): runs real rpmsg processes (the JIT CLI of this build, which
/// needs no AOT publish), parses the ping's p50, and renders the report section with the ratio row.
/// </summary>
public class ColdStartBenchmarkTests
{
    private static IReadOnlyList<string> JitCli =>
        [Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet", Path.Combine(AppContext.BaseDirectory, "rpmsg.dll")];

    [Fact]
    public void Run_RealCli_RecordsEveryColdStartAndASteadyP50PerWait()
    {
        var progress = new StringWriter();

        var results = ColdStartBenchmark.Run([("JIT", JitCli)], runs: 2, steadyCount: 200, progress);

        var result = Assert.Single(results);
        Assert.Equal("JIT", result.Name);
        Assert.Equal(2, result.ColdStarts.Count);
        Assert.All(result.ColdStarts, t => Assert.True(t > TimeSpan.Zero, $"cold start {t}"));
        Assert.Equal(ColdStartBenchmark.SteadyWaits.Order(), result.SteadyP50.Keys.Order());
        Assert.All(result.SteadyP50.Values, t => Assert.True(t > TimeSpan.Zero, $"p50 {t}"));
        // The warm-up start is not recorded: two "cold start" lines, not three.
        Assert.Equal(2, progress.ToString().Split('\n').Count(l => l.StartsWith("cold start JIT", StringComparison.Ordinal)));
    }

    [Fact]
    public void Run_CliFails_ThrowsWithTheCommandAndExitCode()
    {
        IReadOnlyList<string> broken = [.. JitCli, "--no-such-option"];

        var e = Assert.Throws<InvalidOperationException>(() => ColdStartBenchmark.Run([("broken", broken)], 1, 1, TextWriter.Null));

        Assert.Contains("--no-such-option ping --count 1 --wait interrupt", e.Message);
        Assert.Contains("exit code 2", e.Message);
    }

    [Fact]
    public void ParseP50_PingTable_ReadsMicroseconds()
    {
        const string output = "verified 10/10 echoes\npercentile  round trip (us)\np50                    12.5\np90          30.0\n";

        Assert.Equal(TimeSpan.FromTicks(125), ColdStartBenchmark.ParseP50(output, "x"));
    }

    [Fact]
    public void ParseP50_NoTable_ThrowsNamingTheCli()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ColdStartBenchmark.ParseP50("verified 1/1 echoes\n", "NativeAOT"));

        Assert.Contains("'NativeAOT'", e.Message);
    }

    [Fact]
    public void Result_MedianMinMax_FromUnsortedRuns()
    {
        var r = new ColdStartResult("x", ["x"], [Ms(30), Ms(10), Ms(50), Ms(20)], new Dictionary<string, TimeSpan>());

        Assert.Equal(Ms(20), r.MedianColdStart);
        Assert.Equal(Ms(10), r.MinColdStart);
        Assert.Equal(Ms(50), r.MaxColdStart);
    }

    [Fact]
    public void Render_TwoClis_RowEachAndTheRatioToTheFirst()
    {
        var steady = ColdStartBenchmark.SteadyWaits.ToDictionary(w => w, _ => TimeSpan.FromTicks(200));
        var jit = new ColdStartResult("JIT", ["rpmsg"], [Ms(200), Ms(220)], steady);
        var aot = new ColdStartResult("NativeAOT", ["artifacts/aot/linux-x64/rpmsg"], [Ms(50), Ms(55)], ColdStartBenchmark.SteadyWaits.ToDictionary(w => w, _ => TimeSpan.FromTicks(100)));
        var machine = new MachineInfo("cpu", 2, "6.1", "none", "10.0.100", ".NET 10", "0.1 0.2 0.3");

        string md = ColdStartReportWriter.Render([jit, aot], machine, DateTimeOffset.UnixEpoch, "CMD");

        Assert.Contains("| JIT | 2 | 200.0 ms |", md);
        Assert.Contains("| NativeAOT | 2 | 50.0 ms |", md);
        Assert.Contains("| NativeAOT / JIT | | 0.25x | | | 0.50x | 0.50x |", md);
        Assert.Contains("`CMD`", md);
        Assert.Contains("- NativeAOT: `artifacts/aot/linux-x64/rpmsg`", md);
    }

    [Fact]
    public void ReportCommand_Default_IncludesTheColdStartSectionFromDocs()
    {
        var options = ReportCommand.Parse([], "/repo");

        Assert.Equal(Path.Combine("/repo", "docs", "benchmarks-cold-start.md"), options.ColdStartPath);
    }

    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);
}
