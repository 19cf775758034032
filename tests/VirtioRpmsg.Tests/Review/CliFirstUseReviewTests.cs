using System.Text.RegularExpressions;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Packaging;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// The rpmsg tool as a first-time user meets it: a remote that leaves before it announces, more test messages than an
/// endpoint queues, bad values of the simulated remote's own options, range errors that must name the value, and the
/// help's value names against docs/cli.md's synopses.
/// </summary>
public sealed class CliFirstUseReviewTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly string _shm = $"/dev/shm/vrpmsg-test-cli2-{Guid.NewGuid():N}.shm";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-cli2-{Guid.NewGuid():N}.json");

    [Fact]
    public void Ping_RemoteGoneBeforeItAnnounces_FailsSayingTheLinkWentDown()
    {
        // No services, and its stdin at its end: once a host has connected the remote says READY, reads the end and
        // quits, having announced nothing. The host waited 10 s and said the service was not announced.
        using var remote = CrossProcessCli.Start("remote", "--shm", _shm, "--services", "none");
        remote.WaitForOutput("waiting for a host", Limit);
        remote.Process.StandardInput.Close();
        File.WriteAllText(_json, SimulatedPlatform.Description(_shm).ToJson());

        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "ping", "--platform", _json, "-n", "1", "--warmup", "0");

        Assert.Equal(0, remote.WaitForExit(Limit));
        Assert.True(code == 1, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("within", stderr, StringComparison.Ordinal);
        Assert.Contains("closed the connection", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Listen_RemoteSendsMoreThanTheEndpointQueueHolds_ReceivesEveryOne()
    {
        // Every send was commanded before the first receive: the endpoint queues 1024 and dropped the rest.
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "listen", "--remote-sends", "1100", "--count", "1100", "--timeout", "60", "--format", "hex");

        Assert.True(code == 0, $"exit {code}\nstderr: {stderr}");
        Assert.Contains("1100 message(s) received", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--services", "bogus")]
    [InlineData("--echo", "")]
    [InlineData("--echo", "a-service-name-of-thirty-two-byt")]
    public void Remote_BadServiceOrEchoName_ExitsTwoNamingTheOptionAndValue(string option, string value)
    {
        // A bad command line (exit 2, docs/cli.md), found before the remote writes anything; it was a failure (exit 1).
        var (code, _, stderr) = CrossProcessCli.Run(Limit, "remote", "--shm", _shm, "--no-stdin", option, value);

        Assert.Equal(2, code);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(option, stderr, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_shm));
    }

    [Theory]
    [InlineData("ping", "--count", "-1")]
    [InlineData("demo", "--size", "-5")]
    [InlineData("listen", "--count", "0")]
    [InlineData("listen", "--remote-sends", "100001")]
    [InlineData("dump", "--exchange", "1000001")]
    [InlineData("bench", "--runs", "0")]
    [InlineData("bench", "--host-cpu", "-1")]
    public void Subcommand_NumberOutOfRange_TheLineNamesTheValue(string command, string option, string value)
    {
        var (code, _, stderr) = CrossProcessCli.Run(Limit, command, option, value);

        Assert.Equal(2, code);
        Assert.Contains(option, stderr, StringComparison.Ordinal);
        Assert.Contains($"not {value}", stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> SynopsisOptions()
    {
        var data = new TheoryData<string, string, string>();
        string doc = File.ReadAllText(Path.Combine(PackedPackage.FindRepositoryRoot(), "docs", "cli.md"));
        foreach (Match line in Regex.Matches(doc, @"^    rpmsg (\w+) (.*)$", RegexOptions.Multiline))
        {
            foreach (Match option in Regex.Matches(line.Groups[2].Value, @"(--[a-z-]+) ([A-Za-z][A-Za-z0-9_.,|-]*)"))
                data.Add(line.Groups[1].Value, option.Groups[1].Value, option.Groups[2].Value);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SynopsisOptions))]
    public void Help_ValueNames_AreTheSynopsisOfDocsCli(string command, string option, string value)
    {
        var (code, stdout, _) = CrossProcessCli.Run(Limit, command, "--help");

        Assert.Equal(0, code);
        Assert.Contains($"{option} <{value}>", stdout, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        File.Delete(_json);
        File.Delete(_shm);
    }
}
