using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// A doorbell over a Unix-domain stream socket: each ring is one byte; a wait consumes every byte
/// available. Either end may be the server. This is the doorbell of OpenAMP's Linux-userspace
/// machine (<see cref="OpenAmpEventPath"/>; the remote is the server, the host connects).
/// An address starting with '@' is in the abstract namespace.
/// </summary>
public sealed unsafe class UnixSocketDoorbell : FileDescriptorDoorbell
{
    /// <summary>Socket path used by OpenAMP's Linux-userspace demo machine for its first (only) doorbell.</summary>
    public const string OpenAmpEventPath = "/tmp/openamp.event.0";

    // Bytes read per recv() while draining; any number of pending kicks mean "rung".
    private const int DrainChunk = 256;

    // Reads per consume: a peer kicking as fast as we read cannot keep a drain going for ever; what
    // is left keeps the socket readable for the next wait or drain.
    private const int DrainReads = 64;

    private readonly FileDescriptor _socket;
    private volatile bool _peerClosed;

    private UnixSocketDoorbell(FileDescriptor socket, string path, bool isServer) : base(path)
    {
        _socket = socket;
        Path = path;
        IsServer = isServer;
    }

    /// <summary>The socket path (or '@'-prefixed abstract name).</summary>
    public string Path { get; }

    /// <summary>True for the end that listened (and accepted this one peer).</summary>
    public bool IsServer { get; }

    /// <summary>True once the peer has closed its end (seen by a wait or drain).</summary>
    public bool IsPeerClosed => _peerClosed;

    /// <summary>Connects to a server at <paramref name="path"/>, retrying until it appears or <paramref name="timeout"/> passes.</summary>
    public static UnixSocketDoorbell Connect(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        UnixSockets.Parse(path, nameof(path));
        var deadline = Deadline.From(timeout, nameof(timeout));
        using var waiter = new DescriptorWaiter(path);
        var socket = UnixSockets.Connect(path, Native.SockStream, deadline, waiter, cancellationToken);
        return Wrap(socket, path, isServer: false);
    }

    /// <summary>
    /// Listens on <paramref name="path"/> and accepts exactly one peer (then stops listening).
    /// The socket file is removed as soon as the accept ends, whether a peer connected or not.
    /// </summary>
    public static UnixSocketDoorbell Accept(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var (_, isAbstract) = UnixSockets.Parse(path, nameof(path));
        var deadline = Deadline.From(timeout, nameof(timeout));
        using var waiter = new DescriptorWaiter(path);
        FileDescriptor? socket = null;
        try
        {
            using (var listener = UnixSockets.Listen(path, Native.SockStream))
            {
                try
                {
                    socket = UnixSockets.Accept(listener, path, deadline, waiter, cancellationToken);
                }
                finally
                {
                    // Now, while our listener still holds the path (a newer one would have found it live and
                    // refused), not at Dispose: by then the path may be a newer listener's, whose file this
                    // would delete. One peer only, so nobody needs the file after the accept.
                    RemoveSocketFile(path, isAbstract);
                }
            }
            return Wrap(socket, path, isServer: true);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    private static UnixSocketDoorbell Wrap(FileDescriptor socket, string path, bool isServer)
    {
        try
        {
            return new UnixSocketDoorbell(socket, path, isServer);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private protected override FileDescriptor Inbound => _socket;

    /// <inheritdoc />
    public override bool Ring()
    {
        if (IsDisposed || !_socket.TryAddRef())
            return false;
        try
        {
            // MSG_DONTWAIT | MSG_NOSIGNAL: a full buffer (EAGAIN) or a dead peer (EPIPE, ECONNRESET)
            // is "not delivered", never a block or a SIGPIPE.
            byte kick = 1;
            return Native.Send(_socket.Value, &kick, 1) == 1;
        }
        finally
        {
            _socket.DangerousRelease();
        }
    }

    private protected override bool Consume(bool throwIfClosed)
    {
        if (!_socket.TryAddRef())
            throw new ObjectDisposedException(Name);
        bool any = false;
        try
        {
            byte* buffer = stackalloc byte[DrainChunk];
            for (int reads = 0; reads < DrainReads; reads++)
            {
                int n = Native.Read(_socket.Value, buffer, DrainChunk);
                if (n > 0)
                {
                    any = true;
                    continue;
                }
                if (n == 0 || n == -Errno.ECONNRESET)
                    _peerClosed = true;
                else if (n != -Errno.EAGAIN)
                    NativeCallException.Throw("recv", Path, -n);
                break;
            }
        }
        finally
        {
            _socket.DangerousRelease();
        }
        if (!any && _peerClosed && throwIfClosed)
            throw new DoorbellClosedException(Path, "the peer closed its end of the socket; no ring can arrive.");
        return any;
    }

    private protected override void DisposeCore()
    {
        _socket.Dispose();
    }

    private static void RemoveSocketFile(string path, bool isAbstract)
    {
        // Only our own socket file: never a file that is not a socket.
        if (!isAbstract && Native.IsSocket(path) == 1)
            File.Delete(path);
    }
}
