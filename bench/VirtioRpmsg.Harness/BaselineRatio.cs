using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// A stack figure divided by the raw-limit figure measured in the same run (how many times slower
/// than the hardware's limit). Busy-poll and hybrid compare with the cache-line ping-pong, interrupt
/// with the cross-core eventfd ping-pong.
/// </summary>
public sealed record BaselineRatio(string Metric, double P50, double P99)
{
    /// <summary>The baseline metric an echo with <paramref name="wait"/> is compared with.</summary>
    public static string MetricFor(RpmsgWaitStrategy wait) =>
        wait == RpmsgWaitStrategy.Interrupt ? BaselineMetrics.EventFdCross : BaselineMetrics.SpinCross;

    /// <summary>
    /// The ratio for <paramref name="echo"/> to the faster of the baseline probes run just before and after it
    /// (<see cref="EchoResult.Probe"/>, <see cref="PlacementProbe.BaselineFor"/>), or, without them, to
    /// <paramref name="baselines"/>; null when its baseline was not measured (or is zero).
    /// </summary>
    public static BaselineRatio? For(EchoResult echo, IReadOnlyList<BaselineResult> baselines)
    {
        ArgumentNullException.ThrowIfNull(echo);
        ArgumentNullException.ThrowIfNull(baselines);
        string metric = MetricFor(echo.Request.Wait);
        var baseline = PlacementProbe.BaselineFor(echo.Probe, metric, baselines);
        if (baseline is null || baseline.Latency.P50 <= 0 || baseline.Latency.P99 <= 0)
            return null;
        return new BaselineRatio(metric, (double)echo.Latency.P50 / baseline.Latency.P50, (double)echo.Latency.P99 / baseline.Latency.P99);
    }
}
