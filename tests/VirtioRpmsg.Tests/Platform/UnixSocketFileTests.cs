using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;
using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>Who may remove a Unix socket file: never a live listener's, whatever path names it.</summary>
public sealed class UnixSocketFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-sockfile-" + Guid.NewGuid().ToString("N"));
    private readonly string _link;

    public UnixSocketFileTests()
    {
        Directory.CreateDirectory(_dir);
        _link = _dir + "-link";
        File.CreateSymbolicLink(_link, _dir);
    }

    public void Dispose()
    {
        File.Delete(_link);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Listen_LiveListenerBoundThroughASymlink_IsNotReplaced()
    {
        // The kernel lists the path as the binder wrote it: compared as text, the live file looked stale, was
        // deleted, and the second listener took the path.
        using var live = UnixSockets.Listen(Path.Combine(_link, "s.sock"), Native.SockStream);
        FileDescriptor? stolen = null;
        try
        {
            var e = Record.Exception(() => stolen = UnixSockets.Listen(Path.Combine(_dir, "s.sock"), Native.SockStream));
            Assert.True(e is IOException, $"a second listener took the path of a live one: {e?.GetType().Name ?? "no exception"}");
        }
        finally
        {
            stolen?.Dispose();
        }
    }

    [Fact]
    public void VhostUserRpmsgServer_DisposedTwice_LeavesANewerServersSocketFile()
    {
        string path = Path.Combine(_dir, "vhost.sock");
        var first = new VhostUserRpmsgServer(path);
        first.Dispose();
        using var second = new VhostUserRpmsgServer(path);
        Assert.True(File.Exists(path));
        first.Dispose();
        Assert.True(File.Exists(path), "the first server's second Dispose deleted the newer server's socket file");
    }
}
