using System.Xml.Linq;
using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>
/// The whole report pipeline in quick mode (C baseline, in-process scenario, Markdown, SVG), so that the
/// harness cannot rot. Asserts that every row is there and well-formed, never how fast anything was.
/// </summary>
public class HarnessReportTests
{
    [Fact]
    public void Run_QuickMode_WritesEveryRowAndThePlot()
    {
        string dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new ReportOptions
            {
                Quick = true,
                MarkdownPath = Path.Combine(dir, "benchmarks.md"),
                SvgPath = Path.Combine(dir, "latency.svg"),
                Command = "test",
            };
            var log = new StringWriter();
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(120));

            var report = ReportRunner.Run(options, ScenarioRegistry.CreateDefault(), log, cancel.Token);

            Assert.Equal(BaselineMetrics.All, report.Baselines.Select(b => b.Metric));
            var scenario = Assert.Single(report.Scenarios);
            Assert.Equal(InProcessEchoScenario.ScenarioName, scenario.Scenario);
            Assert.Equal(EchoPlan.EchoRequests(options), scenario.Echo.Select(e => e.Request));
            Assert.All(scenario.Echo, e => Assert.Equal(e.Request.Count, e.Latency.Count));
            Assert.All(scenario.Echo, e => Assert.True(e.Latency.P50 > 0 && e.Latency.P50 <= e.Latency.P99 && e.Latency.P99 <= e.Latency.Max, e.Request.Label));
            Assert.Equal(EchoPlan.StreamRequests(options), scenario.Stream.Select(s => s.Request));
            Assert.All(scenario.Stream, s => Assert.True(s.MessagesPerSecond > 0, s.Request.Label));
            // Every case has its placement probes, before and after, with the metric its ratio uses.
            Assert.All(scenario.Echo, e => Assert.NotNull(e.Probe!.P50(BaselineRatio.MetricFor(e.Request.Wait))));
            Assert.All(scenario.Stream, s => Assert.NotNull(s.Probe!.P50(BaselineMetrics.SpinCross)));

            string markdown = File.ReadAllText(options.MarkdownPath);
            foreach (string metric in BaselineMetrics.All)
                Assert.Contains($"| `{metric}` |", markdown);
            foreach (var echo in scenario.Echo)
                Assert.Contains($"| {echo.Request.Label} |", markdown);
            Assert.Contains("| Baseline p50 before / after |", markdown);
            foreach (var stream in scenario.Stream)
                Assert.Contains($"| {stream.Request.Label} |", markdown);
            var targets = TargetEvaluator.Evaluate(scenario, report.Baselines);
            Assert.Equal(9, targets.Count);
            Assert.All(targets, t => Assert.NotEqual(TargetStatus.NotMeasured, t.Status));
            foreach (var target in targets)
                Assert.Contains($"| {target.Target} |", markdown);
            Assert.Contains("![Echo round-trip latency percentiles](latency.svg)", markdown);
            Assert.Contains(report.Machine.Kernel, markdown);

            var svg = XDocument.Load(options.SvgPath);
            XNamespace ns = "http://www.w3.org/2000/svg";
            // One line per 64-byte depth-1 echo (three wait strategies) and one per baseline.
            Assert.Equal(3 + BaselineMetrics.All.Count, svg.Descendants(ns + "polyline").Count());
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
