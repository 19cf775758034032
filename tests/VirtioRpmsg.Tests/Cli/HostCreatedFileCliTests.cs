using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>A host CLI on a "create": true platform removes the shared-memory file it created when it fails.</summary>
public sealed class HostCreatedFileCliTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _shm = $"/dev/shm/vrpmsg-test-hcreate-{Guid.NewGuid():N}.shm";
    private readonly string _socket = $"/tmp/vrpmsg-test-hcreate-{Guid.NewGuid():N}.sock";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-hcreate-{Guid.NewGuid():N}.json");

    [Fact]
    public void NoRemote_PingFailsAndLeavesNoFile()
    {
        var d = PlatformDescription.OpenAmpLinux(PlatformRole.Host);
        File.WriteAllText(_json, (d with { Regions = [d.Regions[0] with { Path = _shm }], Doorbell = d.Doorbell with { Path = _socket } }).ToJson());

        var (exit, stdout, stderr) = CrossProcessCli.Run(Limit, "ping", "--platform", _json, "--service", "rpmsg-openamp-demo-channel", "-n", "1");

        Assert.True(exit == 1, $"exit {exit}\nstdout: {stdout}\nstderr: {stderr}");
        Assert.Contains(_socket, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_shm), "the host left the shared-memory file it created");
    }

    public void Dispose()
    {
        File.Delete(_shm);
        File.Delete(_socket);
        File.Delete(_json);
    }
}
