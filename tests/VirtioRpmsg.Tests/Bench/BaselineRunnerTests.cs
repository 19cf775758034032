using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

public class BaselineRunnerTests
{
    [Fact]
    public void Parse_MetricLinesAndComments_ReadsEveryField()
    {
        const string output = "# pingpong iterations=10\nmetric=spin_cross cpus=0,1 count=10 min=90 p50=120 p90=160 p99=171 p999=181 max=4059 mean=339.5\n\n";

        var result = Assert.Single(BaselineRunner.Parse(output));

        Assert.Equal(new BaselineResult("spin_cross", 0, 1, new LatencySummary(10, 120, 160, 171, 181, 4059, 339.5)), result);
    }

    [Theory]
    [InlineData("metric=spin_cross cpus=0,1 count=10 p50=1 p90=1 p99=1 max=1 mean=1", "p999")]
    [InlineData("metric=spin_cross cpus=0,1 count=10 p50=x p90=1 p99=1 p999=1 max=1 mean=1", "p50 'x'")]
    [InlineData("metric=spin_cross cpus=0 count=10 p50=1 p90=1 p99=1 p999=1 max=1 mean=1", "cpus '0'")]
    [InlineData("garbage", "'garbage'")]
    public void Parse_MalformedLine_ThrowsNamingTheField(string line, string expected)
    {
        var e = Assert.Throws<FormatException>(() => BaselineRunner.Parse(line));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Run_BuiltProgram_MeasuresEveryMetricWithTheGivenCount()
    {
        var results = BaselineRunner.Run(200, 20, 0, 1 % Environment.ProcessorCount, TimeSpan.FromSeconds(60));

        Assert.Equal(BaselineMetrics.All, results.Select(r => r.Metric));
        Assert.All(results, r => Assert.Equal(200, r.Latency.Count));
        Assert.All(results, r => Assert.True(r.Latency.P50 <= r.Latency.P99 && r.Latency.P99 <= r.Latency.Max, r.Metric));
        Assert.Equal(0, results.Single(r => r.Metric == BaselineMetrics.EventFdSame).CpuB);
    }

    [Fact]
    public void Run_MissingProgram_ThrowsFileNotFoundNamingThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-no-such-baseline");

        var e = Assert.Throws<FileNotFoundException>(() => BaselineRunner.Run(10, 0, 0, 0, TimeSpan.FromSeconds(5), path));

        Assert.Contains(path, e.Message);
    }
}
