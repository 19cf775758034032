namespace VirtioRpmsg.Harness;

/// <summary>One line of the latency plot; baselines are drawn dashed.</summary>
public sealed record PlotSeries(string Label, IReadOnlyList<PercentilePoint> Points, bool Dashed = false)
{
    /// <summary>The summary percentiles as a curve (p50 .. max), for distributions known only by their summary.</summary>
    public static IReadOnlyList<PercentilePoint> FromSummary(LatencySummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return
        [
            new PercentilePoint(50, summary.P50),
            new PercentilePoint(90, summary.P90),
            new PercentilePoint(99, summary.P99),
            new PercentilePoint(99.9, summary.P999),
            new PercentilePoint(100, summary.Max),
        ];
    }
}
