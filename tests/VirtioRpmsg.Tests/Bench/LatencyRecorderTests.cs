using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

public class LatencyRecorderTests
{
    [Fact]
    public void Summarize_OneToTenThousand_PercentilesWithinHistogramPrecision()
    {
        var recorder = new LatencyRecorder();
        for (int i = 1; i <= 10_000; i++)
            recorder.RecordNanoseconds(i);

        var summary = recorder.Summarize();

        Assert.Equal(10_000, summary.Count);
        Assert.InRange(summary.P50, 4_995, 5_005);
        Assert.InRange(summary.P99, 9_890, 9_910);
        Assert.InRange(summary.P999, 9_985, 10_005);
        Assert.InRange(summary.Max, 10_000, 10_010);
    }

    [Fact]
    public void PercentileCurve_Recorded_StartsAtMinimumEndsAtMaximumAndNeverDecreases()
    {
        var recorder = new LatencyRecorder();
        for (int i = 1; i <= 1_000; i++)
            recorder.RecordNanoseconds(i * 10);

        var curve = recorder.PercentileCurve();

        Assert.Equal(0, curve[0].Percentile);
        Assert.Equal(100, curve[^1].Percentile);
        Assert.InRange(curve[^1].ValueNs, 10_000, 10_010);
        for (int i = 1; i < curve.Count; i++)
            Assert.True(curve[i].ValueNs >= curve[i - 1].ValueNs && curve[i].Percentile > curve[i - 1].Percentile, $"point {i}");
    }

    [Fact]
    public void Summarize_NothingRecorded_AllZero()
    {
        Assert.Equal(new LatencySummary(0, 0, 0, 0, 0, 0, 0), new LatencyRecorder().Summarize());
        Assert.Empty(new LatencyRecorder().PercentileCurve());
    }
}
