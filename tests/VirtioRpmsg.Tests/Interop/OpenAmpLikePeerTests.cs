using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Interop;

/// <summary>
/// The CLI against tests/peers/openamp_like_peer.c, a C peer that behaves on the wire like OpenAMP's
/// Linux-userspace demo apps: blocking one-byte kicks on a Unix socket, acks every offered feature,
/// the demo channel name, payloads of 17..496 bytes, shutdown by NS destroy. Both directions, every
/// wait mode, 10,000 round trips each; processes and files are cleaned up on every path.
/// </summary>
public sealed class OpenAmpLikePeerTests : IDisposable
{
    private const string Peer = "openamp_like_peer";
    private const string DemoChannel = "rpmsg-openamp-demo-channel";
    private const int RoundTrips = 10_000;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(30);

    private readonly string _shm = $"/dev/shm/vrpmsg-test-oamp-{Guid.NewGuid():N}.shm";
    private readonly string _socket = $"/tmp/vrpmsg-test-oamp-{Guid.NewGuid():N}.sock";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-oamp-{Guid.NewGuid():N}.json");

    [Theory]
    [InlineData("interrupt")]
    [InlineData("hybrid")]
    [InlineData("poll")]
    public void OurHost_PingsTheOpenAmpLikeEchoRemote_EveryEchoVerified(string wait) => PingThePeer(wait, alwaysKick: false);

    /// <summary>A remote that kicks for every message, ignoring NO_INTERRUPT: the host still reads every kick.</summary>
    [Fact]
    public void OurCallerPollingHost_RemoteKicksForEveryMessage_NeverBlocksIt() => PingThePeer("poll", alwaysKick: true);

    [Theory]
    [InlineData("interrupt")]
    [InlineData("hybrid")]
    [InlineData("poll")]
    public void OpenAmpLikeHost_DrivesOurRemote_EveryEchoVerifiedAndTheRemoteExitsOnNsDestroy(string wait)
    {
        File.WriteAllText(_json, Description(PlatformRole.Remote).ToJson());
        using var remote = CrossProcessCli.Start("remote", "--platform", _json, "--echo", DemoChannel, "--wait", wait, "--no-stdin");
        remote.WaitForOutput("waiting for a host", Start);
        using var host = CPeerProcess.Start(Peer, "--role", "host", "--shm", _shm, "--socket", _socket, "--count", RoundTrips.ToString(), "--timeout", "30");

        Assert.True(host.WaitForExit(Limit, $"host, our remote --wait {wait}") == 0, host.Output + "\nremote stderr: " + remote.Stderr);
        Assert.Contains($"verified {RoundTrips}/{RoundTrips} echoes", host.Stdout);
        // The peer's NS destroy of the demo channel was the remote's last echo name: it exits and cleans up.
        Assert.Equal(0, remote.WaitForExit(Limit));
        Assert.False(File.Exists(_shm), "the remote left its shared-memory file behind");
        Assert.False(File.Exists(_socket), "the remote left its socket file behind");
    }

    private void PingThePeer(string wait, bool alwaysKick)
    {
        var args = new List<string> { "--role", "remote", "--shm", _shm, "--socket", _socket, "--timeout", "30" };
        if (alwaysKick)
            args.Add("--always-kick");
        using var remote = CPeerProcess.Start(Peer, [.. args]);
        // The table is written before the peer listens: the host must not create the file first.
        remote.WaitForOutput("listening on", Start);
        File.WriteAllText(_json, Description(PlatformRole.Host).ToJson());

        // No warm-up: the peer reports how many messages it echoed, which must be the run's count.
        var (code, stdout, stderr) = CrossProcessCli.Run(Limit, "ping", "--platform", _json, "--service", DemoChannel,
            "--count", RoundTrips.ToString(), "--size", "480", "--wait", wait, "--warmup", "0");

        Assert.True(code == 0, $"rpmsg ping --wait {wait} exited {code}\nstdout: {stdout}\nstderr: {stderr}\npeer: {remote.Output}");
        Assert.Contains($"verified {RoundTrips}/{RoundTrips} echoes", stdout);
        // Our host closed the doorbell when it finished: the peer saw it and stopped.
        Assert.Equal(0, remote.WaitForExit(Limit, $"remote, our host --wait {wait}"));
        Assert.Contains($"echoed {RoundTrips} messages", remote.Stdout);
    }

    private PlatformDescription Description(PlatformRole role)
    {
        var openAmp = PlatformDescription.OpenAmpLinux(role);
        return openAmp with
        {
            Regions = [openAmp.Regions[0] with { Path = _shm }],
            Doorbell = openAmp.Doorbell with { Path = _socket },
        };
    }

    public void Dispose()
    {
        File.Delete(_shm);
        File.Delete(_socket);
        File.Delete(_json);
    }
}
