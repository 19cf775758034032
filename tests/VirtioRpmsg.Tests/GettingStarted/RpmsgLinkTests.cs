using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.GettingStarted;

/// <summary><see cref="RpmsgLink"/>: the one-call host side, against the simulated remote, and its errors.</summary>
public sealed class RpmsgLinkTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task OpenAsync_RunningRemote_EchoesAndReturnsTheSameChannelTwice()
    {
        using var board = new SimulatedBoard(PlatformWaitStrategy.Hybrid);
        using var bound = new CancellationTokenSource(Bound);

        await using var link = await RpmsgLink.OpenAsync(board.BoardFile, bound.Token);
        var channel = await link.WaitForChannelAsync(SimulatedRemote.EchoServiceName, bound.Token);
        await channel.SendAsync("ping"u8.ToArray(), bound.Token);
        var reply = new byte[channel.Endpoint.MaxPayload];
        var received = await channel.Endpoint.ReceiveAsync(reply, bound.Token);

        Assert.Equal(RpmsgDeviceState.Running, link.Device.State);
        Assert.Equal(RpmsgWaitStrategy.Hybrid, link.Device.Options.WaitStrategy);
        Assert.Equal("ping"u8.ToArray(), reply.AsSpan(0, received.Length).ToArray());
        Assert.Same(channel, await link.WaitForChannelAsync(SimulatedRemote.EchoServiceName, bound.Token));
    }

    [Fact]
    public async Task WaitForChannelAsync_ServiceNeverAnnounced_TimesOutNamingTheService()
    {
        using var board = new SimulatedBoard();
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile, new RpmsgLinkOptions { Timeout = TimeSpan.FromMilliseconds(300) });

        var e = await Assert.ThrowsAsync<TimeoutException>(() => link.WaitForChannelAsync("no-such-service"));

        Assert.Contains("'no-such-service'", e.Message);
    }

    [Fact]
    public async Task WaitForChannelAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var board = new SimulatedBoard();
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile);
        using var cancel = new CancellationTokenSource();
        var wait = link.WaitForChannelAsync("no-such-service", cancel.Token);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }

    [Fact]
    public async Task WaitForChannelAsync_AfterDispose_ThrowsObjectDisposed()
    {
        using var board = new SimulatedBoard();
        var link = await RpmsgLink.OpenAsync(board.BoardFile);
        await link.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => link.WaitForChannelAsync(SimulatedRemote.EchoServiceName));
        Assert.Equal(RpmsgDeviceState.Stopped, link.Device.State);
    }

    // A wait the dispose ended names the link as a call after the dispose does (it said "RpmsgLink" against
    // "VirtioRpmsg.Lifecycle.RpmsgLink").
    [Fact]
    public async Task WaitForChannelAsync_EndedByDispose_NamesTheLinkAsACallAfterIt()
    {
        using var board = new SimulatedBoard();
        var link = await RpmsgLink.OpenAsync(board.BoardFile);
        var pending = link.WaitForChannelAsync("no-such-service");

        await link.DisposeAsync();
        var ended = await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(Bound));
        var after = await Assert.ThrowsAsync<ObjectDisposedException>(() => link.WaitForChannelAsync("no-such-service"));

        Assert.Equal(after.ObjectName, ended.ObjectName);
    }

    [Fact]
    public async Task OpenAsync_MissingFile_ThrowsFileNotFoundWithTheFullPath()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-no-board-" + Guid.NewGuid().ToString("N") + ".json");

        var e = await Assert.ThrowsAsync<FileNotFoundException>(() => RpmsgLink.OpenAsync(path));

        Assert.Contains(path, e.Message);
    }

    [Fact]
    public async Task OpenAsync_RemoteRoleDescription_ThrowsNamingTheRoleField()
    {
        var description = SimulatedPlatform.RemoteDescription("/dev/shm/vrpmsg-test-never-opened.shm");

        var e = await Assert.ThrowsAsync<PlatformDescriptionException>(() => RpmsgLink.OpenAsync(description));

        Assert.Equal("role", e.JsonPath);
        Assert.False(File.Exists("/dev/shm/vrpmsg-test-never-opened.shm"), "nothing is opened before the checks");
    }

    [Fact]
    public async Task OpenAsync_NoRemoteWroteATable_ThrowsResourceTableExceptionAndLeavesNothingOpen()
    {
        string shm = "/dev/shm/vrpmsg-test-" + Guid.NewGuid().ToString("N") + ".shm";
        try
        {
            var e = await Assert.ThrowsAsync<ResourceTableException>(() => RpmsgLink.OpenAsync(SimulatedPlatform.Description(shm)));

            Assert.Contains("version", e.Message, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            File.Delete(shm);
        }
    }

    [Fact]
    public void Options_NonPositiveTimeout_ThrowsNamingTheField()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RpmsgLinkOptions { Timeout = TimeSpan.Zero }.Validate());

        Assert.Equal("Timeout", e.ParamName);
    }

    [Theory]
    [InlineData("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")] // 40 bytes
    [InlineData("")]
    [InlineData("echo\0x")]
    public async Task WaitForChannelAsync_InvalidNameTwice_ThrowsArgumentExceptionBothTimes(string name)
    {
        using var board = new SimulatedBoard();
        // Short: on the defect the second call waited out the timeout instead of throwing.
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile, new RpmsgLinkOptions { Timeout = TimeSpan.FromMilliseconds(500) });

        // The first call used to leave (vdev 0, name) among the pending waits before the driver refused the name; the
        // second found it, registered nothing and timed out saying the remote did not announce it.
        await Assert.ThrowsAsync<ArgumentException>(() => link.WaitForChannelAsync(name));
        await Assert.ThrowsAsync<ArgumentException>(() => link.WaitForChannelAsync(name));
    }
}
