using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Bench;

public class TargetEvaluatorTests
{
    private static EchoResult Echo(RpmsgWaitStrategy wait, long p50, long p999, int depth = 1, double rate = 0, double allocated = 0, double? idle = null) =>
        new(new EchoRequest(64, wait, 1000, depth), new LatencySummary(1000, p50, p50, p50, p999, p999, p50), [], rate, allocated, idle);

    private static readonly BaselineResult[] s_baselines =
    [
        new(BaselineMetrics.SpinCross, 0, 1, new LatencySummary(1000, 200, 200, 200, 200, 200, 200)),
        new(BaselineMetrics.EventFdCross, 0, 1, new LatencySummary(1000, 20_000, 20_000, 20_000, 20_000, 20_000, 20_000)),
    ];

    private static ScenarioResults Results(double busyP50, double streamRate, double allocated = 0) => new(
        "test", "test",
        [
            Echo(RpmsgWaitStrategy.BusyPoll, (long)busyP50, 5_000, allocated: allocated),
            Echo(RpmsgWaitStrategy.Interrupt, 22_000, 50_000),
            Echo(RpmsgWaitStrategy.Hybrid, (long)busyP50 * 3, 5_000, idle: 0.001),
            Echo(RpmsgWaitStrategy.BusyPoll, 3_000, 9_000, depth: 16, rate: 2_000_000),
        ],
        [new StreamResult(new StreamRequest(64, RpmsgWaitStrategy.BusyPoll, 1000), streamRate, streamRate * 64 / 1e6, 0)]);

    [Fact]
    public void Evaluate_FiguresInsideEveryLimit_AllMetExceptHybridRatio()
    {
        var checks = TargetEvaluator.Evaluate(Results(1_000, 3_000_000), s_baselines);

        // Hybrid p50 is 3x busy-poll here: the only target outside its limit.
        Assert.Equal(TargetStatus.Missed, checks.Single(c => c.Target.StartsWith("hybrid echo", StringComparison.Ordinal)).Status);
        Assert.Equal(8, checks.Count(c => c.Status == TargetStatus.Met));
    }

    [Fact]
    public void Evaluate_BusyPollTwiceTheLimit_SaysMissedByTwo()
    {
        var checks = TargetEvaluator.Evaluate(Results(4_000, 3_000_000), s_baselines);

        var under2us = checks.Single(c => c.Target == "busy-poll echo 64 B: p50 under 2 us");
        Assert.Equal(TargetStatus.Missed, under2us.Status);
        Assert.StartsWith("missed by 2.00x", under2us.Margin);
        var ratio = checks.Single(c => c.Target.StartsWith("busy-poll echo 64 B: p50 within 6x", StringComparison.Ordinal));
        Assert.Equal("20.0x", ratio.Measured);
        Assert.StartsWith("missed by 3.33x", ratio.Margin);
    }

    [Fact]
    public void Evaluate_StreamBelowTarget_SaysHowFarShort()
    {
        var check = TargetEvaluator.Evaluate(Results(1_000, 1_000_000), s_baselines).Single(c => c.Target.StartsWith("one-way streaming", StringComparison.Ordinal));

        Assert.Equal(TargetStatus.Missed, check.Status);
        Assert.StartsWith("missed by 2.00x", check.Margin);
    }

    [Fact]
    public void Evaluate_AllocatingPath_MissesTheAllocationTarget()
    {
        var check = TargetEvaluator.Evaluate(Results(1_000, 3_000_000, allocated: 48), s_baselines).Single(c => c.Target.StartsWith("0 bytes", StringComparison.Ordinal));

        Assert.Equal(TargetStatus.Missed, check.Status);
        Assert.Equal("48.00 B/msg", check.Measured);
    }

    [Fact]
    public void Evaluate_NothingMeasured_EveryTargetNotMeasured()
    {
        var checks = TargetEvaluator.Evaluate(new ScenarioResults("empty", "empty", [], []), []);

        Assert.All(checks, c => Assert.Equal(TargetStatus.NotMeasured, c.Status));
    }

    [Fact]
    public void EvaluateIssue15_PollRatioAndRates_MetMissedAndNotMeasuredEachSaid()
    {
        // Busy-poll p50 1,100 ns against a 200 ns ping-pong: 5.5x, over the 5x line; interrupt 1.1x; pipelined 2 M over the
        // whole run with no steady figure; streaming 2.9 M over the whole run, 3.2 M steady.
        var results = Results(1_100, 2_900_000) with
        {
            Stream = [new StreamResult(new StreamRequest(64, RpmsgWaitStrategy.BusyPoll, 1000), 2_900_000, 185.6, 0, SteadyMessagesPerSecond: 3_200_000)],
        };

        var checks = TargetEvaluator.EvaluateIssue15(results, s_baselines).ToDictionary(c => c.Target);

        var poll = checks["busy-poll echo 64 B: p50 within 5x of the cache-line ping-pong p50"];
        Assert.Equal((TargetStatus.Missed, "5.50x"), (poll.Status, poll.Measured));
        Assert.Equal(TargetStatus.Met, checks["interrupt echo 64 B: p50 within 1.2x of the cross-core eventfd ping-pong p50"].Status);
        Assert.Equal(TargetStatus.Met, checks["pipelined echo (16 in flight): at least 1,500,000 round trips/s, whole run"].Status);
        Assert.Equal(TargetStatus.NotMeasured, checks["pipelined echo (16 in flight): at least 1,500,000 round trips/s, steady"].Status);
        var streamWhole = checks["one-way streaming 64 B: at least 3,000,000 messages/s, whole run"];
        Assert.Equal(TargetStatus.Missed, streamWhole.Status);
        Assert.StartsWith("missed by 1.03x", streamWhole.Margin);
        Assert.Equal(TargetStatus.Met, checks["one-way streaming 64 B: at least 3,000,000 messages/s, steady"].Status);
    }

    [Theory]
    [InlineData(CrossProcessEchoScenario.ScenarioName, true)]
    [InlineData(InProcessEchoScenario.ScenarioName, false)]
    public void Render_Issue15Targets_OnlyForTheCrossProcessScenario(string scenario, bool expected)
    {
        var results = Results(1_000, 3_000_000) with { Scenario = scenario };
        var report = new BenchmarkReport(new MachineInfo("cpu", 2, "k", "none", "sdk", "rt", "0 0 0"), "test", DateTimeOffset.UnixEpoch, TimeSpan.Zero,
            Quick: true, 0, 1, s_baselines, [results]);

        string md = MarkdownReportWriter.Render(report, svgLink: null, notes: null, microResults: []);

        Assert.Contains("### Targets (issue 6)", md);
        Assert.Equal(expected, md.Contains("### Targets (issue 15 item 2", StringComparison.Ordinal));
        Assert.Equal(expected, md.Contains("| one-way streaming 64 B: at least 3,000,000 messages/s, whole run | 3,000,000 /s | met |", StringComparison.Ordinal));
    }
}
