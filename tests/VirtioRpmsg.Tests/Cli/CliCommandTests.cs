using System.Text.RegularExpressions;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>
/// Each rpmsg subcommand run as a process against the simulated remote (a child of that process): exit code
/// and output. Speed is never asserted. Every run is bounded; shared-memory files a failed run could leave
/// (named after the subcommand) are removed afterwards.
/// </summary>
public sealed class CliCommandTests : IDisposable
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(90);

    private readonly HashSet<string> _shmBefore = ShmFiles();
    private readonly string _tempDir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-cli-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("interrupt")]
    [InlineData("poll")]
    public void Ping_SimulatedRemote_PrintsVerifiedCountPercentileRowsAndHistogram(string wait)
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "ping", "--count", "300", "--size", "32", "--wait", wait);

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("'rpmsg-echo'", stdout);
        Assert.Contains($"wait {wait}", stdout);
        Assert.Contains("verified 300/300 echoes", stdout);
        foreach (string row in new[] { "p50", "p90", "p99", "p99\\.9", "max" })
            Assert.Matches(new Regex($"^{row} +[\\d.]+$", RegexOptions.Multiline), stdout);
        Assert.Contains("histogram (us):", stdout);
        // The default warm-up ran (at least its fewest round trips, every one checked) and none of it was recorded:
        // every measured round trip falls in exactly one bucket, and the bucket counts add up to --count.
        var warm = Regex.Match(stdout, @"^warm-up: (\d+) round trips in [\d.]+ s, checked, not recorded", RegexOptions.Multiline);
        Assert.True(warm.Success, stdout);
        Assert.True(int.Parse(warm.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 100, warm.Value);
        Assert.Equal(300, InBuckets(stdout));
        // Output is not a terminal here: no progress bar.
        Assert.DoesNotContain("\r", stdout);
    }

    [Fact]
    public void Ping_WarmupZero_RecordsFromTheFirstRoundTrip()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "ping", "--count", "150", "--wait", "poll", "--warmup", "0");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("verified 150/150 echoes", stdout);
        Assert.DoesNotContain("warm-up", stdout);
        Assert.Equal(150, InBuckets(stdout));
    }

    // A window of messages in flight: every echo checked in order and timed from its own send. 1024 is four times the
    // simulated ring's 256 tx buffers: sends find none free and the loop takes echoes instead of blocking.
    [Theory]
    [InlineData("interrupt", 16)]
    [InlineData("poll", 16)]
    [InlineData("hybrid", 16)]
    [InlineData("interrupt", 1024)]
    public void Ping_InFlight_VerifiesEveryEchoInOrderAndPrintsTheRate(string wait, int inFlight)
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "ping", "--count", "3000", "--wait", wait, "--warmup", "0", "--inflight", $"{inFlight}");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains($"wait {wait}, {inFlight} in flight", stdout);
        Assert.Contains("verified 3000/3000 echoes (content and source address checked, in order)", stdout);
        Assert.Matches(new Regex(@"^\d+ round trips/s \([\d.]+ s\)$", RegexOptions.Multiline), stdout);
        Assert.Equal(3000, InBuckets(stdout));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1025")]
    public void Ping_InFlightOutOfRange_ExitsTwoNamingTheOption(string value)
    {
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, "ping", "--inflight", value);

        Assert.Equal(2, code);
        Assert.Contains($"--inflight must be 1 to 1024, not {value}", stderr);
    }

    [Fact]
    public void Ping_BaselineWithInFlight_ExitsTwo()
    {
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, "ping", "--inflight", "4", "--baseline");

        Assert.Equal(2, code);
        Assert.Contains("--baseline compares one round trip at a time; it cannot be used with --inflight 4", stderr);
    }

    // The histogram's bucket counts, added up.
    private static long InBuckets(string stdout) =>
        Regex.Matches(stdout, @"\|#* +(\d+) +[\d.]+%").Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void Ping_Baseline_PrintsTheRatioToEachCBaselineAndMarksTheFloor()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "ping", "--count", "200", "--wait", "hybrid", "--warmup", "0", "--baseline");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("verified 200/200 echoes", stdout);
        Assert.Contains("C baseline beside it (vrpmsg-pingpong, 1000 round trips", stdout);
        Assert.Matches(new Regex(@"^  cache-line ping-pong.*: p50 [\d.]+ [nu]s; ping p50 [\d.]+ [nu]s = [\d.]+x  <- the floor for hybrid$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex(@"^  eventfd ping-pong, two processes, two cores.*= [\d.]+x$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex(@"^  64 B rpmsg echo over split virtqueues in C.*: p50 [\d.]+ [nu]s; ping p50 [\d.]+ [nu]s = [\d.]+x$", RegexOptions.Multiline), stdout);
    }

    [Fact]
    public void Ping_Cpus_PinsBothSidesAndRunsTheBaselineOnTheSameCpus()
    {
        int remote = Environment.ProcessorCount > 1 ? 1 : 0;
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "ping", "--count", "200", "--wait", "interrupt", "--warmup", "0", "--cpus", $"0,{remote}", "--baseline", "--verbose");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("verified 200/200 echoes", stdout);
        Assert.Contains($"pinned: this thread and the dispatcher to CPU 0, the simulated remote to CPU {remote}", stderr);
        Assert.Contains($"C baseline beside it (vrpmsg-pingpong, 1000 round trips, CPUs 0,{remote})", stdout);
        Assert.Matches(new Regex(@"^  eventfd ping-pong, two processes, two cores.*= [\d.]+x  <- the floor for interrupt$", RegexOptions.Multiline), stdout);
        Assert.Matches(new Regex(@"^  64 B rpmsg echo over split virtqueues in C.*= [\d.]+x  <- the same protocol in C$", RegexOptions.Multiline), stdout);
    }

    [Fact]
    public void Send_TextToEchoService_PrintsTheEcho()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "send", "--text", "hello rpmsg", "--reply-timeout", "10");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Matches(@"sent 11 bytes to 'rpmsg-echo' at 0x[0-9A-F]+ from 0x[0-9A-F]+", stdout);
        Assert.Matches(@"reply from 0x[0-9A-F]+, 11 bytes: ""hello rpmsg""", stdout);
    }

    [Fact]
    public void Send_StdinToEchoServiceAsHex_PrintsTheSameBytesBack()
    {
        using var cli = CrossProcessCli.Start("send", "--file", "-", "--format", "hex", "--reply-timeout", "10");
        cli.Process.StandardInput.BaseStream.Write([0x00, 0x01, 0xfe, 0xff]);
        cli.Process.StandardInput.Close();

        int code = cli.WaitForExit(s_limit);

        Assert.True(code == 0, $"exit {code}\nstdout: {cli.Stdout}\nstderr: {cli.Stderr}");
        Assert.Contains("sent 4 bytes", cli.Stdout);
        Assert.Matches(@"reply from 0x[0-9A-F]+, 4 bytes: 0001feff", cli.Stdout);
    }

    [Fact]
    public void Send_ToSinkAddress_PrintsNoReply()
    {
        // The sink counts and drops: a send to a fixed address that never answers still succeeds.
        var (listCode, list, _) = CrossProcessCli.Run(s_limit, "list");
        Assert.Equal(0, listCode);
        string sink = Regex.Match(list, @"rpmsg-sink +local 0x[0-9A-F]+ -> remote (0x[0-9A-F]+)").Groups[1].Value;
        Assert.NotEmpty(sink);

        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "send", "--to", sink, "--hex", "0102", "--reply-timeout", "0.5");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains($"sent 2 bytes to {sink}", stdout);
        Assert.Contains("no reply within 0.5 s", stdout);
    }

    [Fact]
    public void Listen_RemoteSendsThree_PrintsEachAndExitsAtTheCount()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "listen", "--name", "cli-test-listen", "--remote-sends", "3", "--count", "3", "--timeout", "60");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Matches(@"listening on 0x[0-9A-F]+ \(announced as 'cli-test-listen'\)", stdout);
        for (int i = 1; i <= 3; i++)
            Assert.Contains($"9 bytes: \"message {i}\"", stdout);
        Assert.Contains("3 message(s) received", stdout);
    }

    [Fact]
    public void Listen_CountNotReachedBeforeTimeout_ExitsOneWithOneLine()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "listen", "--count", "1", "--timeout", "0.3");

        Assert.Equal(1, code);
        Assert.Contains("listening on", stdout);
        Assert.Equal("rpmsg listen: 0 of 1 messages arrived within 0.3 s", stderr.Trim());
    }

    [Fact]
    public void List_SimulatedRemote_ShowsTheAnnouncedServicesAsChannels()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "list");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("state Running", stdout);
        Assert.Contains("channels (2):", stdout);
        Assert.Matches(@"rpmsg-echo +local 0x[0-9A-F]+ -> remote 0x[0-9A-F]+", stdout);
        Assert.Matches(@"rpmsg-sink +local 0x[0-9A-F]+ -> remote 0x[0-9A-F]+", stdout);
        Assert.Contains("0x35 name service", stdout);
    }

    [Fact]
    public void Dump_AfterFiveEchoes_ShowsDeviceRingAndCounterState()
    {
        var (code, stdout, stderr) = CrossProcessCli.Run(s_limit, "dump", "--exchange", "5");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("role=Host state=Running", stdout);
        Assert.Contains("vring-num=", stdout);
        Assert.Contains("vq0", stdout);
        Assert.Contains("vq1", stdout);
        Assert.Matches(@"free tx \d+/\d+", stdout);
        Assert.Contains("tx=5 ", stdout);
        Assert.Contains("echoed=5", stdout);
    }

    [Fact]
    public void Dump_ExchangeWithAServiceTheRemoteNeverAnnounces_FailsNamingIt()
    {
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, "dump", "--exchange", "1", "--service", "no-such-echo");

        Assert.Equal(1, code);
        Assert.Contains("did not announce 'no-such-echo'", stderr);
    }

    [Fact]
    public void Bench_QuickCrossProcess_WritesReportWithTheCrossProcessRows()
    {
        string report = Path.Combine(_tempDir, "report.md");

        var (code, stdout, stderr) = CrossProcessCli.Run(TimeSpan.FromSeconds(180), "bench", "--quick", "--scenario", "cross-process", "--out", report);

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        string text = File.ReadAllText(report);
        Assert.Contains("## Scenario `cross-process`", text);
        foreach (string size in new[] { "1", "64", "496" })
        {
            foreach (string wait in new[] { "busy-poll", "hybrid", "interrupt" })
                Assert.Contains($"| {size} B {wait} |", text);
        }
        Assert.Contains("| 64 B busy-poll x16 |", text);
        // The user paths: each of the dispatcher modes' six paths, and caller-poll's own loop, zero-copy handler and
        // callback, with a ratio to its callback (a row that did not finish has none).
        foreach (string wait in new[] { "busy-poll", "hybrid", "interrupt" })
        {
            foreach (string path in new[] { "Receive", "ReceiveAsync", "Stream", "Pipe", "ZeroCopy", "Callback" })
                Assert.Matches(new Regex($@"^\| {path} \| {wait} \| [\d.]+ (?:ns|us|ms|s) \|", RegexOptions.Multiline), text);
        }
        foreach (string path in new[] { "Poll", "ZeroCopy" })
            Assert.Matches(new Regex($@"^\| {path} \| caller-poll \| [\d.]+ (?:ns|us|ms|s) \| [\d.]+ (?:ns|us|ms|s) \| [\d.]+x \|", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^\| Callback \| caller-poll \| [\d.]+ (?:ns|us|ms|s) \| [\d.]+ (?:ns|us|ms|s) \| 1\.00x \|", RegexOptions.Multiline), text);
        Assert.True(File.Exists(Path.ChangeExtension(report, ".svg")), "no SVG next to the report");
    }

    [Theory]
    [InlineData("ping", "--wait", "sometimes")]
    [InlineData("ping", "--count", "0")]
    [InlineData("ping", "--cpus", "0")]
    [InlineData("ping", "--cpus", "a,1")]
    [InlineData("ping", "--warmup", "-1")]
    [InlineData("ping", "--warmup", "60001")]
    [InlineData("send", "--to", "nowhere")]
    [InlineData("send", "--format", "base64")]
    [InlineData("listen", "--timeout", "-1")]
    [InlineData("list", "--settle", "-5")]
    [InlineData("dump", "--exchange", "-1")]
    [InlineData("bench", "--host-cpu", "-1")]
    // NaN passed the range checks (every comparison with it is false) and failed later with a stack trace (exit 1).
    [InlineData("send", "--reply-timeout", "NaN")]
    [InlineData("listen", "--timeout", "NaN")]
    [InlineData("list", "--settle", "NaN")]
    [InlineData("dump", "--settle", "NaN")]
    // Names and addresses the library refuses were refused only after the remote started (exit 1).
    [InlineData("send", "--service", "")]
    [InlineData("ping", "--service", "a-service-name-of-thirty-two-byt")]
    [InlineData("dump", "--service", "")]
    [InlineData("listen", "--name", "")]
    [InlineData("listen", "--name", "a-service-name-of-thirty-two-byt")]
    [InlineData("listen", "--address", "0x35")]
    [InlineData("send", "--to", "53")]
    public void Subcommand_BadArgument_ExitsTwoWithOneLineNamingTheOption(string command, string option, string value)
    {
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, command, option, value);

        Assert.Equal(2, code);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(option, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("--echo", "other-echo")]
    [InlineData("--shm", "/dev/shm/vrpmsg-test-unused.shm")]
    [InlineData("--platform", "board.json")]
    public void Remote_VhostUserWithAnOptionOfTheSharedFileRemote_ExitsTwoNamingIt(string option, string value)
    {
        // These were silently ignored under --vhost-user (an --echo name was never even checked). The socket is an
        // abstract name: '@name' was read as a response file before.
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, "remote", "--vhost-user", "@vrpmsg-test-unused", option, value, "--no-stdin");

        Assert.DoesNotContain("Response file", stderr);
        Assert.Equal(2, code);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(option, stderr);
        Assert.Contains("--vhost-user", stderr);
    }

    [Fact]
    public void Send_NoPayload_ExitsOneWithOneLine()
    {
        var (code, _, stderr) = CrossProcessCli.Run(s_limit, "send");

        Assert.Equal(1, code);
        Assert.Equal("rpmsg send: give the payload with --text, --hex or --file (- for stdin)", stderr.Trim());
    }

    [Theory]
    [InlineData("ping", "--service")]
    [InlineData("send", "--file")]
    [InlineData("listen", "--remote-sends")]
    [InlineData("list", "--platform")]
    [InlineData("dump", "--platform")]
    [InlineData("bench", "--quick")]
    public void Subcommand_Help_ExitsZeroAndListsItsOptions(string command, string option)
    {
        var (code, stdout, _) = CrossProcessCli.Run(s_limit, command, "--help");

        Assert.Equal(0, code);
        Assert.Contains(option, stdout);
    }

    public void Dispose()
    {
        // A failed run may leave its shared-memory file (named vrpmsg-COMMAND-...): remove what appeared.
        foreach (string file in ShmFiles().Except(_shmBefore))
        {
            if (Regex.IsMatch(Path.GetFileName(file), "^vrpmsg-(ping|send|listen|list|dump|bench)-") && CrossProcessCli.LeftBehindHere(file))
                File.Delete(file);
        }
        if (Directory.Exists(_tempDir))
            Directory.Delete(_tempDir, recursive: true);
    }

    private static HashSet<string> ShmFiles() =>
        Directory.Exists("/dev/shm") ? Directory.GetFiles("/dev/shm", "vrpmsg-*").ToHashSet() : [];
}
