using System.Net.Sockets;
using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.GettingStarted;

/// <summary>
/// Review smallrx, item 5: a description names a fixed shared-memory file (docs/platforms/simulated.json:
/// /dev/shm/vrpmsg-sim.shm; <c>rpmsg remote</c> without --shm: /dev/shm/vrpmsg-remote.shm), so a second simulated
/// remote started from the same description (a second demo, a second test process) meets the first one's file. It
/// must refuse, naming the file, before it writes a byte: it used to write its resource table over the live session's
/// and then wait for a host on the same socket.
/// </summary>
public sealed class SharedFileCollisionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SecondRemoteOverAFileAnotherRemoteServes_RefusesNamingThePath_TheFirstSessionGoesOn()
    {
        using var board = new SimulatedBoard();
        using var bound = new CancellationTokenSource(Bound);
        await using var link = await RpmsgLink.OpenAsync(board.BoardFile, bound.Token);
        var channel = await link.WaitForChannelAsync(SimulatedRemote.EchoServiceName, bound.Token);
        byte[] table = File.ReadAllBytes(board.SharedMemoryPath)[..0x400];

        var output = new SimulatedBoard.LineSignalWriter();
        using var stop = new CancellationTokenSource();
        var second = Task.Factory.StartNew(() => SimulatedRemoteChild.Run(
            new SimulatedRemoteChildOptions { PlatformFile = board.BoardFile, ReadCommands = false }, TextReader.Null, output, stop.Token),
            TaskCreationOptions.LongRunning);
        // Refused, or past its table and waiting for a host (what it used to do): whichever comes first.
        bool ended = SpinWait.SpinUntil(() => second.IsCompleted || output.Text.Contains("waiting for a host", StringComparison.Ordinal), Bound);
        stop.Cancel();
        var e = await Record.ExceptionAsync(() => second.WaitAsync(Bound));

        Assert.True(ended, "the second remote neither refused nor got ready");
        var refused = Assert.IsType<PlatformDescriptionException>(e);
        Assert.Equal("regions[0].path", refused.JsonPath);
        Assert.Equal(board.SharedMemoryPath, refused.Value);
        Assert.Contains("another simulated remote", refused.Detail);
        Assert.Equal(table, File.ReadAllBytes(board.SharedMemoryPath)[..0x400]);
        // The first session goes on, its file still there.
        await channel.SendAsync("still here"u8.ToArray(), bound.Token);
        var reply = new byte[channel.Endpoint.MaxPayload];
        var received = await channel.Endpoint.ReceiveAsync(reply, bound.Token);
        Assert.Equal("still here", Encoding.ASCII.GetString(reply, 0, received.Length));
        Assert.True(File.Exists(board.SharedMemoryPath));
    }

    [Fact]
    public void RemoteOverAFileNoLiveRemoteHolds_StartsAsBefore()
    {
        // A file left by a remote that was killed (no lock survives its process) is taken over, as before.
        string shm = $"/dev/shm/vrpmsg-test-stale-{Guid.NewGuid():N}.shm";
        File.WriteAllBytes(shm, new byte[16]);
        try
        {
            var output = new SimulatedBoard.LineSignalWriter();
            using var stop = new CancellationTokenSource();
            var remote = Task.Factory.StartNew(() => SimulatedRemoteChild.Run(
                new SimulatedRemoteChildOptions { SharedMemoryPath = shm, ReadCommands = false }, TextReader.Null, output, stop.Token),
                TaskCreationOptions.LongRunning);
            bool ready = SpinWait.SpinUntil(() => remote.IsCompleted || output.Text.Contains("waiting for a host", StringComparison.Ordinal), Bound);
            stop.Cancel();
            var e = Record.Exception(() => remote.Wait(Bound));
            Assert.True(ready, output.Text);
            Assert.Contains("waiting for a host", output.Text);
            Assert.True(e is null or AggregateException { InnerException: OperationCanceledException }, e?.ToString());
        }
        finally
        {
            File.Delete(shm);
        }
    }

    /// <summary>
    /// Review (rereview-g): the files a run creates were listed (not there yet) before the claim, so a second remote that
    /// started as the first one created its file, and was refused, deleted that live file on its way out. The claim comes
    /// first: a refused run created nothing and deletes nothing. The first remote is stood in for by the test holding the
    /// claim and creating the file in between.
    /// </summary>
    [Fact]
    public void RemoteRefusedByAClaim_TheClaimantCreatedTheFileMeanwhile_LeavesTheFile()
    {
        string shm = $"/dev/shm/vrpmsg-test-claimed-{Guid.NewGuid():N}.shm";
        using var first = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        first.Bind(new UnixDomainSocketEndPoint("\0" + SimulatedRemoteChild.ClaimName(shm)));
        try
        {
            var e = Record.Exception(() => SimulatedRemoteChild.Run(
                new SimulatedRemoteChildOptions
                {
                    SharedMemoryPath = shm,
                    ReadCommands = false,
                    Claiming = () => File.WriteAllBytes(shm, new byte[16]), // the first remote creates its file now
                },
                TextReader.Null, TextWriter.Null));

            var refused = Assert.IsType<PlatformDescriptionException>(e);
            Assert.Equal(shm, refused.Value);
            Assert.True(File.Exists(shm), "the refused remote deleted the file of the remote that holds it");
        }
        finally
        {
            File.Delete(shm);
        }
    }
}
