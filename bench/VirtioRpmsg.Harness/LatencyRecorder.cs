using System.Diagnostics;
using HdrHistogram;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Records latencies (nanoseconds, 3 significant digits, up to 60 s) into an HdrHistogram.
/// Recording allocates nothing, so it can sit on the measured path. Single writer.
/// </summary>
public sealed class LatencyRecorder
{
    private const long Highest = 60_000_000_000L;
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    private readonly LongHistogram _histogram = new(1, Highest, 3);

    /// <summary>Samples recorded so far.</summary>
    public long Count => _histogram.TotalCount;

    /// <summary>Records one value in nanoseconds (clamped to the trackable range).</summary>
    public void RecordNanoseconds(long nanoseconds) => _histogram.RecordValue(Math.Clamp(nanoseconds, 1, Highest));

    /// <summary>Records the time between two <see cref="Stopwatch.GetTimestamp"/> readings.</summary>
    public void RecordTicks(long start, long end) => RecordNanoseconds(TicksToNanoseconds(end - start));

    /// <summary>Converts a <see cref="Stopwatch"/> tick count to nanoseconds.</summary>
    public static long TicksToNanoseconds(long ticks) => (long)(ticks * s_nanosecondsPerTick);

    /// <summary>Adds every value <paramref name="other"/> recorded (a case measured in blocks).</summary>
    public void Add(LatencyRecorder other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _histogram.Add(other._histogram);
    }

    /// <summary>The p50/p90/p99/p99.9/max summary.</summary>
    public LatencySummary Summarize() => LatencySummary.FromHistogram(_histogram);

    /// <summary>
    /// The percentile curve for plotting: the value at each percentile on a log scale of
    /// "1 in N" (0, 50, 75, 87.5, ... up to the maximum).
    /// </summary>
    public IReadOnlyList<PercentilePoint> PercentileCurve()
    {
        var points = new List<PercentilePoint>();
        if (_histogram.TotalCount == 0)
            return points;
        points.Add(new PercentilePoint(0, _histogram.GetValueAtPercentile(0)));
        // Halving the remaining tail each step spreads points evenly on a "1 / (1 - p)" axis.
        for (double tail = 0.5; tail * _histogram.TotalCount >= 1; tail /= 2)
            points.Add(new PercentilePoint(100 * (1 - tail), _histogram.GetValueAtPercentile(100 * (1 - tail))));
        points.Add(new PercentilePoint(100, _histogram.GetMaxValue()));
        return points;
    }
}
