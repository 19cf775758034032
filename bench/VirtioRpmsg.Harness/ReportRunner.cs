using System.Diagnostics;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Runs everything in one go: the C baselines, then every registered scenario over <see cref="EchoPlan"/>,
/// then writes the Markdown report and the SVG plot. Ratios always use the baselines of the same run.
/// </summary>
public static class ReportRunner
{
    /// <summary>Runs the report; progress goes to <paramref name="log"/>.</summary>
    public static BenchmarkReport Run(ReportOptions options, ScenarioRegistry registry, TextWriter log, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(log);
        var names = options.Scenarios ?? registry.Names;
        foreach (string name in names)
        {
            // Fail before minutes of measuring, not after.
            if (!registry.Names.Contains(name))
                throw new ArgumentException($"no benchmark scenario '{name}'; known: {string.Join(", ", registry.Names)}");
        }
        var started = DateTimeOffset.UtcNow;
        long start = Stopwatch.GetTimestamp();
        // One CPU only (a container limit): both sides share it; the report shows which CPUs were used.
        int cpus = Math.Max(1, Environment.ProcessorCount);
        int hostCpu = options.HostCpu % cpus, remoteCpu = options.RemoteCpu % cpus;
        var machine = MachineInfo.Collect();
        log.WriteLine($"machine: {machine.CpuModel}, {machine.LogicalCpus} CPUs, kernel {machine.Kernel}, .NET SDK {machine.DotnetSdk}");

        log.WriteLine($"C baseline: {options.BaselineIterations} round trips per metric, CPUs {hostCpu},{remoteCpu}");
        var baselines = BaselineRunner.Run(options.BaselineIterations, options.BaselineIterations / 10, hostCpu, remoteCpu, TimeSpan.FromMinutes(2));
        foreach (var b in baselines)
            log.WriteLine($"  {b.Metric,-14} p50 {Units.Time(b.Latency.P50),10}  p99 {Units.Time(b.Latency.P99),10}");

        var scenarios = new List<ScenarioResults>();
        IReadOnlyList<UserPathResult> userPaths = [];
        var context = new ScenarioContext(hostCpu, remoteCpu);
        if (options.Quick)
            context = context with { RemoteWarmup = ScenarioContext.QuickRemoteWarmup };
        foreach (string name in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scenario = registry.Create(name, context);
            log.WriteLine($"scenario {scenario.Name}: {scenario.Description}");
            var echoes = new List<EchoResult>();
            foreach (var request in EchoPlan.EchoRequests(options))
            {
                var before = Probe(options, hostCpu, remoteCpu, cancellationToken);
                var echo = scenario.RunEcho(request, cancellationToken);
                echo = echo with { Probe = new PlacementProbe(before, Probe(options, hostCpu, remoteCpu, cancellationToken)) };
                echoes.Add(echo);
                log.WriteLine($"  echo {request.Label,-22} p50 {Units.Time(echo.Latency.P50),10}  p99 {Units.Time(echo.Latency.P99),10}  {Units.Count(echo.RoundTripsPerSecond),11} rt/s  {echo.AllocatedBytesPerMessage:F2} B/msg{(echo.Request.Depth > 1 && echo.SteadyRoundTripsPerSecond is { } steady ? $"  steady {Units.Count(steady)} rt/s" : "")}  {BaselineRatio.MetricFor(request.Wait)} {echo.Probe!.Describe(BaselineRatio.MetricFor(request.Wait))}");
            }
            var streams = new List<StreamResult>();
            foreach (var request in EchoPlan.StreamRequests(options))
            {
                var before = Probe(options, hostCpu, remoteCpu, cancellationToken);
                var stream = scenario.RunStream(request, cancellationToken);
                stream = stream with { Probe = new PlacementProbe(before, Probe(options, hostCpu, remoteCpu, cancellationToken)) };
                streams.Add(stream);
                log.WriteLine($"  stream {request.Label,-20} {Units.Count(stream.MessagesPerSecond),11} msg/s  {stream.MegabytesPerSecond:F1} MB/s  {stream.AllocatedBytesPerMessage:F2} B/msg{(stream.SteadyMessagesPerSecond is { } steady ? $"  steady {Units.Count(steady)} msg/s" : "")}  {BaselineMetrics.SpinCross} {stream.Probe!.Describe(BaselineMetrics.SpinCross)}");
            }
            scenarios.Add(new ScenarioResults(scenario.Name, scenario.Description, echoes, streams));
            if (scenario is CrossProcessEchoScenario cross)
            {
                log.WriteLine("  user paths (64 B, one at a time):");
                userPaths = cross.RunUserPaths(options.UserPathCount, options.Warmup,
                    r => log.WriteLine(r.Failure is not null ? $"    {WaitNames.Of(r.Wait),-11} {r.Path,-13} did not finish: {r.Failure}" : $"    {WaitNames.Of(r.Wait),-11} {r.Path,-13} p50 {Units.Time(r.Latency.P50),10}  p99 {Units.Time(r.Latency.P99),10}  {r.AllocatedBytesPerMessage:F2} B/msg{(r.IdleCpu is { } idle ? $"  idle {idle * 100:F1} % of a core" : "")}"),
                    cancellationToken, () => Probe(options, hostCpu, remoteCpu, cancellationToken));
            }
        }

        var report = new BenchmarkReport(machine, options.Command, started, Stopwatch.GetElapsedTime(start), options.Quick, hostCpu, remoteCpu, baselines, scenarios) { UserPaths = userPaths };
        Write(report, options);
        return report;
    }

    /// <summary>Writes the Markdown report and the SVG plot to the paths in <paramref name="options"/> (each only when set).</summary>
    public static void Write(BenchmarkReport report, ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(options);
        if (options.SvgPath is not null)
        {
            CreateDirectoryFor(options.SvgPath);
            File.WriteAllText(options.SvgPath, SvgLatencyPlotWriter.Render(PlotTitle(report), PlotSeriesOf(report)));
        }
        if (options.MarkdownPath is not null)
        {
            CreateDirectoryFor(options.MarkdownPath);
            string? svgLink = options.SvgPath is null
                ? null
                : Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(options.MarkdownPath))!, Path.GetFullPath(options.SvgPath));
            string? notes = options.NotesPath is not null && File.Exists(options.NotesPath) ? File.ReadAllText(options.NotesPath) : null;
            // The cold-start section is measured by its own command (it needs the NativeAOT CLI); kept across report runs.
            if (options.ColdStartPath is not null && File.Exists(options.ColdStartPath))
                notes = (notes is null ? "" : notes.Trim() + Environment.NewLine + Environment.NewLine) + File.ReadAllText(options.ColdStartPath);
            var micro = MicroResults(options.MicroResultsDirectory);
            File.WriteAllText(options.MarkdownPath, MarkdownReportWriter.Render(report, svgLink, notes, micro));
        }
    }

    // A short baseline run between cases: which vCPU placement the next case (or the last one) ran on.
    // Only its p50 is used: right after a busy-poll case the dispatchers still spin (until their idle timeout) on the
    // probe's CPUs, which can stretch its tail but hardly its median.
    private static IReadOnlyList<BaselineResult> Probe(ReportOptions options, int hostCpu, int remoteCpu, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return BaselineRunner.Run(options.ProbeIterations, options.ProbeIterations / 10, hostCpu, remoteCpu, TimeSpan.FromMinutes(1));
    }

    /// <summary>The plot: every depth-1 64-byte echo of every scenario, plus the baselines dashed.</summary>
    public static IReadOnlyList<PlotSeries> PlotSeriesOf(BenchmarkReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var series = new List<PlotSeries>();
        foreach (var scenario in report.Scenarios)
        {
            foreach (var echo in scenario.Echo.Where(e => e.Request is { PayloadSize: 64, Depth: 1 }))
                series.Add(new PlotSeries($"{scenario.Scenario} {echo.Request.Label}", echo.Curve));
        }
        foreach (var baseline in report.Baselines)
            series.Add(new PlotSeries($"C {baseline.Metric} (cpus {baseline.CpuA},{baseline.CpuB})", PlotSeries.FromSummary(baseline.Latency), Dashed: true));
        return series;
    }

    private static string PlotTitle(BenchmarkReport report) =>
        $"Echo round trip, 64 B, vs. raw limits ({report.Machine.CpuModel}, {report.Machine.LogicalCpus} CPUs{(report.Quick ? ", quick run" : "")})";

    private static IReadOnlyList<(string Name, string Markdown)> MicroResults(string? directory)
    {
        if (directory is null || !Directory.Exists(directory))
            return [];
        return Directory.GetFiles(directory, "*-report-github.md")
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f).Replace("-report-github.md", "", StringComparison.Ordinal), File.ReadAllText(f)))
            .ToArray();
    }

    private static void CreateDirectoryFor(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
            Directory.CreateDirectory(directory);
    }
}
