using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

public class ReportCommandTests
{
    [Fact]
    public void Parse_NoArguments_WritesDocsUnderTheRoot()
    {
        var options = ReportCommand.Parse([], "/repo");

        Assert.False(options.Quick);
        Assert.Equal(Path.Combine("/repo", "docs", "benchmarks.md"), options.MarkdownPath);
        Assert.Equal(Path.Combine("/repo", "docs", "latency.svg"), options.SvgPath);
        Assert.Null(options.Scenarios);
        Assert.Equal("dotnet run -c Release --project bench/VirtioRpmsg.Benchmarks -- report", options.Command);
    }

    [Fact]
    public void Parse_EveryOption_Applied()
    {
        var options = ReportCommand.Parse(["--quick", "--out", "a.md", "--svg", "b.svg", "--scenario", "x", "--scenario", "y", "--host-cpu", "1", "--remote-cpu", "0"], "/repo");

        Assert.True(options.Quick);
        Assert.Equal("a.md", options.MarkdownPath);
        Assert.Equal("b.svg", options.SvgPath);
        Assert.Equal(["x", "y"], options.Scenarios!);
        Assert.Equal(1, options.HostCpu);
        Assert.Equal(0, options.RemoteCpu);
        Assert.EndsWith("-- report --quick --out a.md --svg b.svg --scenario x --scenario y --host-cpu 1 --remote-cpu 0", options.Command);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "'--bogus'")]
    [InlineData(new[] { "--out" }, "'--out' needs a value")]
    [InlineData(new[] { "--host-cpu", "one" }, "'one'")]
    public void Parse_BadArguments_ThrowsNamingTheOption(string[] args, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => ReportCommand.Parse(args, "/repo"));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Run_UnknownScenario_ReturnsOneWithAOneLineReason()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            int code = ReportCommand.Run(["--quick", "--scenario", "nope", "--out", Path.Combine(dir, "r.md"), "--svg", Path.Combine(dir, "r.svg")], output, error,
                new ScenarioRegistry());

            Assert.Equal(1, code);
            Assert.Equal("report failed: no benchmark scenario 'nope'; known: " + Environment.NewLine, error.ToString());
            Assert.False(Directory.Exists(dir));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Create_UnknownName_ListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ScenarioRegistry.CreateDefault().Create("nope", new ScenarioContext(0, 1)));

        Assert.Contains("'nope'", e.Message);
        Assert.Contains(InProcessEchoScenario.ScenarioName, e.Message);
    }
}
