using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-h) of the CLI first-use review (cli2): its fixes held for the default wait strategy only. Under
/// <c>--wait poll</c> the host has no dispatcher: nothing takes the remote's messages off the ring while the command
/// thread waits for the remote's reply to a "send" command, so <c>listen --remote-sends</c> stalled once the host's rx
/// buffers were used. And the test helper that keeps cleanups off running CLIs also kept them off CLIs that had exited
/// but were not disposed yet: the leftover checks of the demo's kill and interrupt tests could not fail.
/// </summary>
public sealed class CliRereviewTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public void Listen_PollWait_RemoteSendsMoreThanTheHostsRxBuffers_ReceivesEveryOne()
    {
        // 256 host rx buffers: the 257th send waited its 15 s for a buffer, the remote replied ERR, listen failed (exit 1).
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "listen", "--wait", "poll", "--remote-sends", "600", "--count", "600", "--timeout", "60", "--format", "hex");

        Assert.True(code == 0, $"exit {code}\nstderr: {stderr}");
        Assert.Contains("600 message(s) received", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("poll")]
    [InlineData("hybrid")]
    public void Ping_RemoteGoneBeforeItAnnounces_FailsSayingTheLinkWentDown_UnderEveryWait(string wait)
    {
        string shm = $"/dev/shm/vrpmsg-test-rh-{Guid.NewGuid():N}.shm";
        string json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-rh-{Guid.NewGuid():N}.json");
        try
        {
            using var remote = CrossProcessCli.Start("remote", "--shm", shm, "--services", "none");
            remote.WaitForOutput("waiting for a host", Limit);
            remote.Process.StandardInput.Close();
            File.WriteAllText(json, SimulatedPlatform.Description(shm).ToJson());

            var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "ping", "--platform", json, "-n", "1", "--warmup", "0", "--wait", wait);

            Assert.Equal(0, remote.WaitForExit(Limit));
            Assert.True(code == 1, $"exit {code}\nstdout: {stdout}\nstderr: {stderr}");
            Assert.DoesNotContain("within", stderr, StringComparison.Ordinal);
            Assert.Contains("the link went down before the remote announced", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(shm);
            File.Delete(json);
        }
    }

    [Fact]
    public void LeftBehindHere_ACliThatExitedButIsNotDisposedYet_CountsAsFinished()
    {
        // Demo_KilledWithSigkill asserts (and Demo_Interrupted cleans up) before its `using` disposes the CLI: with only
        // disposed CLIs counted, the file of that demo was never one "left behind here", whatever was in /dev/shm.
        using var cli = CrossProcessCli.Start("--version");
        cli.WaitForExit(Limit);
        string file = $"/dev/shm/vrpmsg-demo-{cli.Process.Id}-0123456789ab.shm"; // only the name is looked at

        Assert.True(CrossProcessCli.LeftBehindHere(file), "an exited CLI's file is not counted as left behind until the CLI is disposed");
    }

    [Fact]
    public void LeftBehindHere_ARunningCli_DoesNotCount()
    {
        // Not too wide: a file of a CLI still running is never cleaned up (another test class may be running it).
        string shm = $"/dev/shm/vrpmsg-test-rh-{Guid.NewGuid():N}.shm";
        try
        {
            using var remote = CrossProcessCli.Start("remote", "--shm", shm, "--no-stdin");
            remote.WaitForOutput("waiting for a host", Limit);
            string file = $"/dev/shm/vrpmsg-demo-{remote.Process.Id}-0123456789ab.shm";

            Assert.False(CrossProcessCli.LeftBehindHere(file));
        }
        finally
        {
            File.Delete(shm);
        }
    }
}
