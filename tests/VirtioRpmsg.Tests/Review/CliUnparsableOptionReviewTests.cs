using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A typed option whose value does not convert ("--count abc") is a bad command line like any other: one line on
/// stderr naming the option, exit 2. The options' own range validators read the value and must not throw on a
/// token the parser has not been able to convert (that used to escape Main as an unhandled exception: a stack trace
/// and SIGABRT instead of exit 2).
/// </summary>
public sealed class CliUnparsableOptionReviewTests
{
    // Every option with a range validator (or read by a command validator), with a value of the wrong type.
    public static TheoryData<string[]> UnparsableValues() => new()
    {
        new[] { "ping", "--count", "abc" },
        new[] { "ping", "--size", "abc" },
        new[] { "ping", "--warmup", "abc" },
        new[] { "ping", "--inflight", "abc" },
        new[] { "ping", "--baseline", "--inflight", "abc" },
        new[] { "ping", "--count", "99999999999" },
        new[] { "demo", "--count", "1.5" },
        new[] { "demo", "--size", "x" },
        new[] { "send", "--text", "a", "--reply-timeout", "soon" },
        new[] { "listen", "--count", "abc" },
        new[] { "listen", "--timeout", "abc" },
        new[] { "listen", "--remote-sends", "abc" },
        new[] { "list", "--settle", "abc" },
        new[] { "dump", "--settle", "abc" },
        new[] { "dump", "--exchange", "abc" },
        new[] { "bench", "--host-cpu", "abc" },
        new[] { "bench", "--remote-cpu", "abc" },
        new[] { "bench", "--runs", "abc" },
    };

    [Theory]
    [MemberData(nameof(UnparsableValues))]
    public void Parse_UnparsableOptionValue_IsAParseErrorNamingTheOption(string[] args)
    {
        var parsed = VirtioRpmsg.Cli.Program.BuildRoot().Parse(args, VirtioRpmsg.Cli.Program.Parsing);

        var error = Assert.Single(parsed.Errors);
        string option = args[^2];
        Assert.Contains(option, error.Message);
        Assert.Contains(args[^1], error.Message);
    }

    [Fact]
    public void Main_UnparsableCount_ExitsTwoWithOneLineAndNoStackTrace()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(60), "ping", "--count", "abc");

        Assert.True(code == 2, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rpmsg: ", line);
        Assert.Contains("--count", line);
        Assert.Contains("'abc'", line);
        Assert.DoesNotContain("Unhandled exception", stderr);
    }
}
