using HdrHistogram;

namespace VirtioRpmsg.Harness;

/// <summary>Percentiles of one latency distribution, in nanoseconds.</summary>
public sealed record LatencySummary(long Count, long P50, long P90, long P99, long P999, long Max, double Mean)
{
    /// <summary>Reads the summary percentiles out of a histogram of nanosecond values.</summary>
    public static LatencySummary FromHistogram(HistogramBase histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        if (histogram.TotalCount == 0)
            return new LatencySummary(0, 0, 0, 0, 0, 0, 0);
        return new LatencySummary(
            histogram.TotalCount,
            histogram.GetValueAtPercentile(50),
            histogram.GetValueAtPercentile(90),
            histogram.GetValueAtPercentile(99),
            histogram.GetValueAtPercentile(99.9),
            histogram.GetMaxValue(),
            histogram.GetMean());
    }
}
