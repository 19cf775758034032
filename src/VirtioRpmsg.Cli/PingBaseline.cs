using System.Diagnostics;
using HdrHistogram;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Cli;

/// <summary>
/// <c>rpmsg ping --baseline</c>: runs the C baseline (vrpmsg-pingpong, built next to this program) right after the
/// ping, on the ping's <c>--cpus</c> (default 0 and 1), and prints the ping's p50 as ratios to its cache-line and eventfd ping-pong, the same
/// ratios <c>rpmsg bench</c> reports (busy-poll and hybrid against the cache line, interrupt against eventfd).
/// </summary>
internal static class PingBaseline
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs the baseline with as many round trips as the ping (at least 1,000) and prints the ratios.</summary>
    /// <param name="cpus">Where the baseline's two processes run: the ping's <c>--cpus</c>, or 0,1.</param>
    public static void Print(LongHistogram ping, RpmsgWaitStrategy wait, int count, (int Host, int Remote) cpus, TextWriter output)
    {
        int iterations = Math.Max(1_000, count);
        int online = Math.Max(1, Environment.ProcessorCount);
        int hostCpu = cpus.Host, remoteCpu = cpus.Remote % online;
        IReadOnlyList<BaselineResult> baselines;
        try
        {
            baselines = BaselineRunner.Run(iterations, Math.Max(100, iterations / 10), hostCpu, remoteCpu, s_timeout);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or TimeoutException)
        {
            throw new CliFailure($"--baseline: {e.Message}");
        }
        long p50 = (long)(ping.GetValueAtPercentile(50) * 1e9 / Stopwatch.Frequency);
        output.WriteLine($"C baseline beside it ({BaselineRunner.ProgramName}, {iterations} round trips, CPUs {hostCpu},{remoteCpu}):");
        string compared = BaselineRatio.MetricFor(wait == RpmsgWaitStrategy.CallerPoll ? RpmsgWaitStrategy.BusyPoll : wait);
        foreach (var b in baselines.Where(b => b.Metric is BaselineMetrics.SpinCross or BaselineMetrics.EventFdCross or BaselineMetrics.RingEventFdCross))
        {
            string ratio = b.Latency.P50 > 0 ? Units.Ratio((double)p50 / b.Latency.P50) : "-";
            string mark = b.Metric == compared ? $"  <- the floor for {HostLink.WaitName(wait)}"
                : b.Metric == BaselineMetrics.RingEventFdCross && wait == RpmsgWaitStrategy.Interrupt ? "  <- the same protocol in C" : "";
            output.WriteLine($"  {BaselineMetrics.Describe(b.Metric)}: p50 {Units.Time(b.Latency.P50)}; ping p50 {Units.Time(p50)} = {ratio}{mark}");
        }
    }
}
