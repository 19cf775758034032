using System.Text;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>The "User paths" section: ratios to the callback path and the C baseline of the same run, and the targets it says are met or not.</summary>
public sealed class UserPathReportWriterTests
{
    private static LatencySummary P50(long nanoseconds) => new(1000, nanoseconds, nanoseconds, nanoseconds, nanoseconds, nanoseconds, nanoseconds);

    private static string Render(params UserPathResult[] results)
    {
        var report = new BenchmarkReport(new MachineInfo("cpu", 2, "k", "none", "sdk", "rt", "0 0 0"), "test", DateTimeOffset.UnixEpoch, TimeSpan.Zero, Quick: true, 0, 1,
            [new BaselineResult(BaselineMetrics.SpinCross, 0, 1, P50(500)), new BaselineResult(BaselineMetrics.EventFdCross, 0, 1, P50(20_000))], [])
        { UserPaths = results };
        var md = new StringBuilder();
        UserPathReportWriter.Render(md, report);
        return md.ToString();
    }

    [Fact]
    public void Render_RatiosToCallbackAndBaseline_AndTargetVerdicts()
    {
        string md = Render(
            new UserPathResult(UserPath.Receive, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0),
            new UserPathResult(UserPath.Receive, RpmsgWaitStrategy.Hybrid, 64, P50(3_000), 0, IdleCpu: 0.01),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.Hybrid, 64, P50(2_000), 0),
            UserPathResult.Failed(UserPath.Pipe, RpmsgWaitStrategy.Interrupt, 64, "not done within 36 s"),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.Interrupt, 64, P50(20_000), 0));

        Assert.Contains("| Receive | busy-poll | 2.00 us | 2.00 us | 1.00x | 4.00x | - |  | 0.00 |", md);
        Assert.Contains("| Receive | hybrid | 3.00 us | 3.00 us | 1.50x | 6.00x | - | 1.50x | 0.00 |", md);
        Assert.Contains("| Pipe | interrupt | did not finish: not done within 36 s |", md);
        Assert.Contains("1.0 % of a core", md);
        Assert.Contains("within 1.3x of the callback path, per wait mode | **no**: 1 of 3; missed: Receive hybrid, Pipe interrupt |", md);
        Assert.Contains("hybrid p50 within 1.2x of busy-poll, per path | **no**: 1 of 2; missed: Receive hybrid |", md);
        Assert.Contains("under 2 % of a core | yes (1 of 1) |", md);
        Assert.Contains("0 B allocated per message (under 1 B/msg in the block that allocated least) | **no**: 5 of 6; missed: Pipe interrupt |", md);
    }

    [Fact]
    public void Render_WithProbes_RatioToTheProbeBeforeTheCase_AndToTheFasterOneWhereThePlacementMoved()
    {
        static IReadOnlyList<BaselineResult> Spin(long p50) => [new BaselineResult(BaselineMetrics.SpinCross, 0, 1, P50(p50))];

        // The run's opening baseline says 500 ns. The Receive case began on a 550 ns placement that moved to 250 ns
        // during it (x C to the faster probe: 8x, not 3.6x); the Stream case moved the other way (to the one before).
        string md = Render(
            new UserPathResult(UserPath.Receive, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0, Probe: new PlacementProbe(Spin(550), Spin(250))),
            new UserPathResult(UserPath.Stream, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0, Probe: new PlacementProbe(Spin(250), Spin(550))),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0, Probe: new PlacementProbe(Spin(500), Spin(510))));

        Assert.Contains("| Receive | busy-poll | 2.00 us | 2.00 us | 1.00x | 8.00x | 550 ns / 250 ns (moved) |  | 0.00 |", md);
        Assert.Contains("| Stream | busy-poll | 2.00 us | 2.00 us | 1.00x | 8.00x | 250 ns / 550 ns (moved) |  | 0.00 |", md);
        Assert.Contains("| Callback | busy-poll | 2.00 us | 2.00 us | 1.00x | 4.00x | 500 ns / 510 ns |  | 0.00 |", md);
    }

    [Fact]
    public void Render_AMissBetweenTwoPlacements_IsStillAMissAndSaysSo()
    {
        static IReadOnlyList<BaselineResult> Spin(long p50) => [new BaselineResult(BaselineMetrics.SpinCross, 0, 1, P50(p50))];

        // Receive ran on a distant placement (550 ns), the callback path on a near one (150 ns); Stream on the same as
        // the callback path but slower; the hybrid Stream case moved during the case.
        string md = Render(
            new UserPathResult(UserPath.Receive, RpmsgWaitStrategy.BusyPoll, 64, P50(2_000), 0, Probe: new PlacementProbe(Spin(550), Spin(560))),
            new UserPathResult(UserPath.Stream, RpmsgWaitStrategy.BusyPoll, 64, P50(1_500), 0, Probe: new PlacementProbe(Spin(160), Spin(150))),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.BusyPoll, 64, P50(1_100), 0, Probe: new PlacementProbe(Spin(150), Spin(150))),
            new UserPathResult(UserPath.Stream, RpmsgWaitStrategy.Hybrid, 64, P50(2_000), 0, Probe: new PlacementProbe(Spin(150), Spin(540))),
            new UserPathResult(UserPath.Callback, RpmsgWaitStrategy.Hybrid, 64, P50(1_100), 0, Probe: new PlacementProbe(Spin(150), Spin(150))));

        Assert.Contains("within 1.3x of the callback path, per wait mode | **no**: 0 of 3; missed: "
            + "Receive busy-poll (other placement than Callback busy-poll: C p50 550 ns / 560 ns against 150 ns / 150 ns), "
            + "Stream busy-poll, "
            + "Stream hybrid (other placement than Callback hybrid: C p50 150 ns / 540 ns (moved) against 150 ns / 150 ns) |", md);
        Assert.Contains("hybrid p50 within 1.2x of busy-poll, per path | **no**: 1 of 2; missed: "
            + "Stream hybrid (other placement than Stream busy-poll: C p50 150 ns / 540 ns (moved) against 160 ns / 150 ns) |", md);
    }

    [Fact]
    public void Render_NoUserPaths_WritesNothing()
    {
        Assert.Equal("", Render());
    }
}
