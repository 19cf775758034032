using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>
/// A host CLI started before its remote (OpenAMP's layout: the remote writes the table, then listens on
/// the socket) waits for the remote's socket and only then reads the table, instead of failing on the
/// empty table of a shared-memory file it has just created itself.
/// </summary>
public sealed class HostStartsFirstCliTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly string _shm = $"/dev/shm/vrpmsg-test-hfirst-{Guid.NewGuid():N}.shm";
    private readonly string _socket = $"/tmp/vrpmsg-test-hfirst-{Guid.NewGuid():N}.sock";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-hfirst-{Guid.NewGuid():N}.json");

    private PlatformDescription Description(PlatformRole role)
    {
        var d = PlatformDescription.OpenAmpLinux(role);
        return d with { Regions = [d.Regions[0] with { Path = _shm }], Doorbell = d.Doorbell with { Path = _socket } };
    }

    [Fact]
    public async Task HostBeforeRemote_WaitsForTheSocketThenReadsTheTable()
    {
        File.WriteAllText(_json, Description(PlatformRole.Host).ToJson());
        using var host = CrossProcessCli.Start("send", "--platform", _json, "--text", "early", "--reply-timeout", "20");

        // The host has mapped the (new, all-zero) file: from here on it may read the table at any time.
        Assert.True(SpinWait.SpinUntil(() => File.Exists(_shm) || host.Process.HasExited, Limit), "the host did not create the shared-memory file");
        Assert.False(host.Process.HasExited, $"the host gave up before the remote started\nstdout: {host.Stdout}\nstderr: {host.Stderr}");

        using var resources = PlatformResources.Open(Description(PlatformRole.Remote));
        SimulatedRemote.WriteResourceTable(resources);
        using var stop = new CancellationTokenSource();
        var accept = Task.Run(() => resources.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Limit, CancellationToken = stop.Token }));
        // A host that failed instead of waiting never connects: report its error, not the accept timeout.
        if (await Task.WhenAny(accept, host.Process.WaitForExitAsync()) != accept)
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accept);
            Assert.Fail($"the host exited {host.Process.ExitCode} before the remote listened\nstdout: {host.Stdout}\nstderr: {host.Stderr}");
        }
        using var doorbell = await accept;
        using var remote = SimulatedRemote.Start(resources, doorbell);

        int exit = host.WaitForExit(Limit);
        Assert.True(exit == 0, $"exit {exit}\nstdout: {host.Stdout}\nstderr: {host.Stderr}");
        Assert.Contains("5 bytes: \"early\"", host.Stdout, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        File.Delete(_shm);
        File.Delete(_socket);
        File.Delete(_json);
    }
}
