using System.Net.Sockets;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform;

public sealed class UnixSocketDoorbellTests : DescriptorDoorbellContractTests
{
    protected override DoorbellUnderTest Create()
    {
        var (client, server) = ConnectedPair("@" + NewName());
        return new DoorbellUnderTest(client, () => Assert.True(server.Ring()), server.Dispose);
    }

    private static string NewName() => "vrpmsg-test-sock-" + Guid.NewGuid().ToString("N");

    private static string NewPath() => Path.Combine(Path.GetTempPath(), NewName() + ".sock");

    private static (UnixSocketDoorbell Client, UnixSocketDoorbell Server) ConnectedPair(string address)
    {
        var server = Task.Factory.StartNew(() => UnixSocketDoorbell.Accept(address, Bounded.Limit), TaskCreationOptions.LongRunning);
        var client = UnixSocketDoorbell.Connect(address, Bounded.Limit);
        return (client, Bounded.Await(server));
    }

    [Fact]
    public void Ring_PeerNeverReads_SomeOfAMillionRingsReturnFalseWithoutBlocking()
    {
        var (client, server) = ConnectedPair("@" + NewName());
        using (client)
        using (server)
        {
            int refused = Bounded.Run(() =>
            {
                int n = 0;
                for (int i = 0; i < 1_000_000; i++)
                    n += client.Ring() ? 0 : 1;
                return n;
            }, TimeSpan.FromSeconds(120));
            Assert.True(refused > 0, "a full socket buffer must refuse rings");
            // The peer still sees that it was rung.
            Assert.True(server.Drain());
        }
    }

    [Fact]
    public void Ring_PeerClosed_ReturnsFalseWithoutSigpipe()
    {
        var (client, server) = ConnectedPair("@" + NewName());
        using (client)
        {
            server.Dispose();
            // The first send after the peer's close fails with EPIPE; MSG_NOSIGNAL keeps the process alive.
            Assert.False(client.Ring());
            Assert.False(client.Ring());
        }
    }

    [Fact]
    public void Wait_PeerClosed_ThrowsDoorbellClosedNamingSocket()
    {
        string address = "@" + NewName();
        var (client, server) = ConnectedPair(address);
        using (client)
        {
            server.Dispose();
            var e = Assert.Throws<DoorbellClosedException>(() => Bounded.Run(() => client.Wait(Bounded.Limit)));
            Assert.Contains(address, e.Message);
            Assert.True(client.IsPeerClosed);
        }
    }

    [Fact]
    public void Wait_ManyKicksPending_OneWaitConsumesThemAll()
    {
        var (client, server) = ConnectedPair("@" + NewName());
        using (client)
        using (server)
        {
            // 100 one-byte kicks fit in any socket buffer (each pending byte costs far more than a byte of it).
            for (int i = 0; i < 100; i++)
                Assert.True(server.Ring());
            Assert.True(client.Wait(Bounded.Limit));
            Assert.False(client.Drain());
        }
    }

    [Fact]
    public void Accept_FilePath_RemovesSocketFileOnceItHasAcceptedItsPeer()
    {
        string path = NewPath();
        try
        {
            var (client, server) = ConnectedPair(path);
            using (client)
            using (server)
            {
                Assert.True(server.IsServer);
                Assert.False(File.Exists(path), "the one-shot server kept its socket file after its one accept");
                Assert.True(server.Ring() && client.Wait(Bounded.Limit));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Dispose_OldServer_DoesNotDeleteTheSocketFileOfANewListenerOnThePath()
    {
        string path = NewPath();
        try
        {
            var pair = ConnectedPair(path);
            using var firstClient = pair.Client;
            using var first = pair.Server;

            // A new session on the same path (a restart, the next connection) listens there.
            using var stop = new CancellationTokenSource();
            var secondServer = Task.Factory.StartNew(() => UnixSocketDoorbell.Accept(path, Timeout.InfiniteTimeSpan, stop.Token), TaskCreationOptions.LongRunning);
            AwaitListening(path);

            // The old session ends; the path is the new listener's by now.
            first.Dispose();

            var thrown = Record.Exception(() => UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(1)).Dispose());
            // A client that connected is queued for the new listener's accept; cancel only when nobody will come.
            if (thrown is not null)
                stop.Cancel();
            var serverOutcome = Record.Exception(() => Bounded.Await(secondServer).Dispose());
            Assert.True(thrown is null,
                $"A client could not reach the new listener on '{path}' after the old server was disposed " +
                $"(socket file exists: {File.Exists(path)}): {thrown?.GetType().Name}: {thrown?.Message}");
            Assert.Null(serverOutcome);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Accept_PathOfALiveOneShotListener_ThrowsInUseWithoutTakingThatListenersOnlyAccept()
    {
        string path = NewPath();
        try
        {
            var server = Task.Factory.StartNew(() => UnixSocketDoorbell.Accept(path, Bounded.Limit), TaskCreationOptions.LongRunning);
            AwaitListening(path);

            // A second listener on the same path is refused, ...
            var refused = Assert.Throws<IOException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromSeconds(1)));
            Assert.Contains(path, refused.Message);
            Assert.Contains("in use", refused.Message);

            // ... and deciding so must not have connected to the first one: its one peer is the real client.
            var thrown = Record.Exception(() =>
            {
                using var client = UnixSocketDoorbell.Connect(path, TimeSpan.FromSeconds(2));
                Assert.True(client.Ring());
            });
            using var accepted = Bounded.Await(server);
            bool peerGone = Record.Exception(() => accepted.Wait(TimeSpan.FromMilliseconds(50))) is DoorbellClosedException;
            Assert.True(thrown is null && !peerGone,
                $"The first server accepted the second listener's liveness probe as its one peer (peer closed: {peerGone}); " +
                $"the real client got {thrown?.GetType().Name}: {thrown?.Message}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Waits until /proc/net/unix lists a listening socket bound to <paramref name="path"/>.</summary>
    private static void AwaitListening(string path)
    {
        var spin = new SpinWait();
        var deadline = Deadline.Within(Bounded.Limit);
        while (!IsListening(path))
        {
            Assert.False(deadline.IsExpired, $"no listener appeared on '{path}'");
            spin.SpinOnce();
        }
    }

    private static bool IsListening(string path) =>
        File.ReadLines("/proc/net/unix").Skip(1).Any(line =>
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON (listening)
            return f.Length >= 8 && f[7] == path && f[3] == "00010000";
        });

    [Fact]
    public void Accept_NoPeerBeforeTimeout_ThrowsTimeoutAndRemovesFile()
    {
        string path = NewPath();
        try
        {
            var e = Assert.Throws<TimeoutException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromMilliseconds(100)));
            Assert.Contains(path, e.Message);
            Assert.False(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Accept_StaleSocketFileFromDeadServer_ReplacesIt()
    {
        string path = NewPath();
        try
        {
            // A bound socket that is closed without unlinking leaves a stale file, as a crashed server would.
            Assert.Equal(0, Native.UnixListen(path, 0, Native.SockStream, out int stale));
            Native.Close(stale);
            Assert.True(File.Exists(path));
            var (client, server) = ConnectedPair(path);
            using (client)
            using (server)
                Assert.True(server.Ring() && client.Wait(Bounded.Limit));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Accept_PathIsRegularFile_ThrowsIOExceptionAndKeepsFile()
    {
        string path = NewPath();
        try
        {
            File.WriteAllText(path, "not a socket");
            var e = Assert.Throws<IOException>(() => UnixSocketDoorbell.Accept(path, TimeSpan.FromMilliseconds(100)));
            Assert.Contains(path, e.Message);
            Assert.Equal("not a socket", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Connect_NoServer_ThrowsTimeoutNamingPath()
    {
        string path = NewPath();
        var e = Assert.Throws<TimeoutException>(() => Bounded.Run(() => UnixSocketDoorbell.Connect(path, TimeSpan.FromMilliseconds(100))));
        Assert.Contains(path, e.Message);
        Assert.Contains("ENOENT", e.Message);
    }

    [Fact]
    public void Connect_CancelledWhileRetrying_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Run(() => UnixSocketDoorbell.Connect(NewPath(), Timeout.InfiniteTimeSpan, cts.Token)));
    }

    [Fact]
    public void Connect_PathTooLong_ThrowsArgumentNamingLength()
    {
        string path = "/tmp/" + new string('x', 120);
        var e = Assert.Throws<ArgumentException>(() => UnixSocketDoorbell.Connect(path, TimeSpan.Zero));
        Assert.Equal("path", e.ParamName);
        Assert.Contains("125 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connect_OpenAmpStyleRemoteServer_EachKickIsOneByte()
    {
        // Stand-in for OpenAMP's Linux-userspace remote: a plain stream server on a path; the host connects.
        string path = NewPath();
        try
        {
            using var remote = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            remote.Bind(new UnixDomainSocketEndPoint(path));
            remote.Listen(1);
            using var host = UnixSocketDoorbell.Connect(path, Bounded.Limit);
            using var accepted = remote.Accept();
            accepted.ReceiveTimeout = (int)Bounded.Limit.TotalMilliseconds;
            var buffer = new byte[16];
            for (int i = 0; i < 3; i++)
            {
                Assert.True(host.Ring());
                Assert.Equal(1, accepted.Receive(buffer));
            }
            accepted.Send(new byte[] { 0x5A });
            Assert.True(host.Wait(Bounded.Limit));
            Assert.False(host.Drain());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("client")]
    [InlineData("server")]
    public void ChildProcessInRole_EchoesFiftyRings_EveryRoundAnswered(string childRole)
    {
        const int rounds = 50;
        string path = NewPath();
        try
        {
            using var peer = PeerProcess.Start("doorbell-socket", childRole, path, rounds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var doorbell = childRole == "client"
                ? UnixSocketDoorbell.Accept(path, Bounded.Limit)
                : UnixSocketDoorbell.Connect(path, Bounded.Limit);
            peer.Expect("READY", Bounded.Limit);
            for (int i = 0; i < rounds; i++)
            {
                Assert.True(doorbell.Ring(), $"round {i}: ring not delivered");
                Assert.True(doorbell.Wait(Bounded.Limit), $"round {i}: no echo; peer stderr: {peer.StandardError}");
            }
            peer.Expect("DONE", Bounded.Limit);
            Assert.Equal(0, peer.WaitForExit(Bounded.Limit));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
