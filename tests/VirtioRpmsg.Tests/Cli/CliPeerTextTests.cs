using VirtioRpmsg.Tests.GettingStarted;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>
/// Service names come from the remote: `rpmsg list` printed them raw, so a remote announcing a line break and a terminal
/// escape drew a fake line and cleared the user's screen. They are printed escaped, as the library's errors print them.
/// </summary>
public sealed class CliPeerTextTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public void List_ARemoteAnnouncingControlCharacters_PrintsThemEscaped()
    {
        using var board = new SimulatedBoard(echoNames: ["evil\r\nFAKE\u001b[2J"]);

        // With --platform the CLI waits the settle time for announcements (the remote makes its one at link-up): a
        // generous 5 s, so a loaded machine's delay does not leave the name out (the assertion below would then fail).
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "list", "--platform", board.BoardFile, "--settle", "5");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains("channels (1):", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.DoesNotContain("\nFAKE", stdout, StringComparison.Ordinal);
        Assert.Contains("evil\\u000D\\u000AFAKE\\u001B[2J", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Send_FormatTextEchoWithControlCharacters_PrintsThemEscaped()
    {
        // The payload comes back from the peer: --format text printed it raw, so an echo holding a line break and a
        // terminal escape drew a fake reply line and cleared the screen (auto falls back to hex for such bytes).
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "send", "--hex", "1b5b324a0d0a46414b45", "--format", "text");

        Assert.True(code == 0, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.DoesNotContain('\u001b', stdout);
        Assert.DoesNotContain("\nFAKE", stdout, StringComparison.Ordinal);
        Assert.Contains("10 bytes: \\u001B[2J\\u000D\\u000AFAKE", stdout, StringComparison.Ordinal);
    }
}
