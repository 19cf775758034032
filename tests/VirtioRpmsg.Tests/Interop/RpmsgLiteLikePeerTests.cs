using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Interop;

/// <summary>
/// The CLI with the RPMsg-Lite presets (docs/platforms/rpmsg-lite-*.json: no resource table) against
/// tests/peers/rpmsg_lite_like_peer.c, a C peer that follows RPMsg-Lite's conventions: the master
/// pre-fills vring 1's used ring with its tx buffers, marks every descriptor writable and leaves
/// NO_INTERRUPT set; the remote kicks for every message and takes the first kick as link-up; nobody
/// kicks for returned buffers. Both directions, every wait mode.
/// </summary>
public sealed class RpmsgLiteLikePeerTests : IDisposable
{
    private const string Peer = "rpmsg_lite_like_peer";
    private const string Service = "rpmsg-lite-echo";
    private const int RoundTrips = 5_000;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(30);

    private readonly string _shm = $"/dev/shm/vrpmsg-test-rlite-{Guid.NewGuid():N}.shm";
    private readonly string _socket = $"/tmp/vrpmsg-test-rlite-{Guid.NewGuid():N}.sock";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-rlite-{Guid.NewGuid():N}.json");

    [Theory]
    [InlineData("interrupt")]
    [InlineData("hybrid")]
    [InlineData("poll")]
    public void OurHost_PingsTheRpmsgLiteLikeRemote_EveryEchoVerified(string wait)
    {
        using var remote = CPeerProcess.Start(Peer, "--role", "remote", "--shm", _shm, "--socket", _socket, "--name", Service, "--timeout", "30");
        remote.WaitForOutput("listening on", Start);
        WritePreset("host");

        // No warm-up: the peer reports how many messages it echoed, which must be the run's count.
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "ping", "--platform", _json, "--service", Service,
            "--count", RoundTrips.ToString(), "--size", "496", "--wait", wait, "--warmup", "0");

        Assert.True(code == 0, $"rpmsg ping --wait {wait} exited {code}\nstdout: {stdout}\nstderr: {stderr}\npeer: {remote.Output}");
        Assert.Contains($"verified {RoundTrips}/{RoundTrips} echoes", stdout);
        Assert.Equal(0, remote.WaitForExit(Limit, $"remote, our host --wait {wait}"));
        Assert.Contains($"echoed {RoundTrips} messages", remote.Stdout);
    }

    [Theory]
    [InlineData("interrupt")]
    [InlineData("hybrid")]
    [InlineData("poll")]
    public void RpmsgLiteLikeMaster_DrivesOurRemote_EveryEchoVerifiedAndTheRemoteExitsOnNsDestroy(string wait)
    {
        WritePreset("remote");
        using var remote = CrossProcessCli.Start("remote", "--platform", _json, "--echo", Service, "--wait", wait, "--no-stdin");
        remote.WaitForOutput("waiting for a host", Start);
        using var master = CPeerProcess.Start(Peer, "--role", "master", "--shm", _shm, "--socket", _socket, "--name", Service,
            "--count", RoundTrips.ToString(), "--timeout", "30");

        Assert.True(master.WaitForExit(Limit, $"master, our remote --wait {wait}") == 0, master.Output + "\nremote stderr: " + remote.Stderr);
        Assert.Contains($"verified {RoundTrips}/{RoundTrips} echoes", master.Stdout);
        Assert.Equal(0, remote.WaitForExit(Limit));
        Assert.False(File.Exists(_shm), "the remote left its shared-memory file behind");
        Assert.False(File.Exists(_socket), "the remote left its socket file behind");
    }

    /// <summary>The repository's preset, pointed at this test's file and socket: the preset itself is what is tested.</summary>
    private void WritePreset(string role)
    {
        var preset = PlatformDescription.Load(Path.Combine(PlatformTestJson.ExamplesDirectory(), $"rpmsg-lite-{role}.json"));
        Assert.Null(preset.ResourceTable);
        File.WriteAllText(_json, (preset with
        {
            Regions = [preset.Regions[0] with { Path = _shm }],
            Doorbell = preset.Doorbell with { Path = _socket },
        }).ToJson());
    }

    public void Dispose()
    {
        File.Delete(_shm);
        File.Delete(_socket);
        File.Delete(_json);
    }
}
