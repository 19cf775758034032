using System.Text;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Listen / connect-with-retry / accept for Unix-domain sockets, shared by the socket doorbell and
/// descriptor passing. An address starting with '@' is in the Linux abstract namespace (no file).
/// </summary>
internal static class UnixSockets
{
    // sun_path is 108 bytes: a path needs its terminating NUL, an abstract name its leading one.
    internal const int MaxNameBytes = 107;

    // Retry back-off for connect while the server is not there yet: there is no wake-up for
    // "a listener appeared", so this is the one place that retries on a timer.
    private const int FirstRetryMilliseconds = 1;
    private const int MaxRetryMilliseconds = 50;

    /// <summary>Splits "@name" into (name, abstract) and checks the length; throws naming the address.</summary>
    /// <summary>
    /// Whether the connected socket <paramref name="fd"/> reports that its peer hung up (POLLHUP / POLLRDHUP), looked at
    /// without waiting. Readability alone is not: a live peer's message (an empty one on SEQPACKET, say) makes the
    /// socket readable too. A failed look is no hang-up (a close is for good: the next look sees it). The caller holds a
    /// reference on the descriptor.
    /// </summary>
    internal static bool IsHungUp(int fd) => Native.Poll2(fd, 0, -1, 0, out int ready) == 0 && (ready & Native.ReadyHangUp) != 0;

    internal static (string Name, bool IsAbstract) Parse(string address, string paramName)
    {
        ArgumentNullException.ThrowIfNull(address, paramName);
        bool isAbstract = address.StartsWith('@');
        string name = isAbstract ? address[1..] : address;
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes == 0 || bytes > MaxNameBytes || name.Contains('\0'))
            throw new ArgumentException($"Unix socket address '{address}' is {bytes} bytes; it must be 1 to {MaxNameBytes} bytes without NUL characters.", paramName);
        return (name, isAbstract);
    }

    /// <summary>Binds and listens. A stale socket file (no socket bound to it is open) is replaced; a live one is not.</summary>
    internal static FileDescriptor Listen(string address, int type)
    {
        var (name, isAbstract) = Parse(address, nameof(address));
        int r = Native.UnixListen(name, isAbstract ? 1 : 0, type, out int fd);
        if (r == -Errno.EADDRINUSE && !isAbstract && IsStaleSocketFile(name))
        {
            File.Delete(name);
            r = Native.UnixListen(name, 0, type, out fd);
        }
        if (r == -Errno.EADDRINUSE)
            throw new IOException($"Unix socket address '{address}' is in use (by a live listener or a file that is not a socket).", new NativeCallException("bind", address, Errno.EADDRINUSE));
        NativeCallException.ThrowIfError(r, "bind/listen", address);
        return new FileDescriptor(fd);
    }

    private static bool IsStaleSocketFile(string path) => Native.IsSocket(path) == 1 && !HasBoundSocket(path);

    /// <summary>
    /// True when a socket bound to <paramref name="path"/> is still open and not a connection (a listener, one bound
    /// and about to listen, a datagram socket): the file is then live. Read from /proc/net/unix rather than probed
    /// with connect(): a probe that connects to a live one-shot server becomes its only peer and ruins its session.
    /// </summary>
    /// <remarks>
    /// The kernel lists the path as the binder passed it (relative, or through a symlinked directory), so any bound
    /// socket with the same file name counts: a possibly live file is never removed, at worst a stale one is kept
    /// ("in use"). A socket bound in another network namespace is not listed at all. When /proc/net/unix cannot be
    /// read the file counts as live, for the same reason.
    /// </remarks>
    private static bool HasBoundSocket(string path)
    {
        string fileName = Path.GetFileName(Path.GetFullPath(path));
        try
        {
            foreach (string line in File.ReadLines("/proc/net/unix").Skip(1))
            {
                // Num RefCount Protocol Flags Type St Inode Path: St 01 is SS_UNCONNECTED (listening sockets too);
                // an accepted connection (03) of a listener that is gone keeps the path but takes no connections.
                if (!TrySplitProcNetUnix(line, out string state, out string bound) || state != "01" || bound.StartsWith('@'))
                    continue;
                if (Path.GetFileName(bound) == fileName)
                    return true;
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>Field 6 (St) and the path of a /proc/net/unix line; false for an unbound socket.</summary>
    private static bool TrySplitProcNetUnix(string line, out string state, out string path)
    {
        state = path = "";
        int i = 0;
        for (int field = 0; field < 7; field++)
        {
            while (i < line.Length && line[i] == ' ')
                i++;
            int start = i;
            while (i < line.Length && line[i] != ' ')
                i++;
            if (start == i)
                return false;
            if (field == 5)
                state = line[start..i];
        }
        // One space separates the inode from the path, which may itself contain spaces.
        if (i + 1 >= line.Length)
            return false;
        path = line[(i + 1)..];
        return true;
    }

    /// <summary>
    /// Connects, retrying while nobody listens yet (ENOENT, ECONNREFUSED, EAGAIN) until the deadline;
    /// then <see cref="TimeoutException"/> naming the address and the last error.
    /// </summary>
    internal static FileDescriptor Connect(string address, int type, Deadline deadline, DescriptorWaiter waiter, CancellationToken cancellationToken)
    {
        var (name, isAbstract) = Parse(address, nameof(address));
        int delay = FirstRetryMilliseconds;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int r = Native.UnixConnect(name, isAbstract ? 1 : 0, type, out int fd);
            if (r == 0)
                return new FileDescriptor(fd);
            if (r != -Errno.ENOENT && r != -Errno.ECONNREFUSED && r != -Errno.EAGAIN)
                NativeCallException.Throw("connect", address, -r);
            if (deadline.IsExpired)
                throw new TimeoutException($"Could not connect to Unix socket '{address}' before the timeout: last error {Errno.Describe(-r)}.");
            // A cancellable sleep: waits on nothing but the wake descriptor.
            waiter.WaitReady(null, forWrite: false, Deadline.From(TimeSpan.FromMilliseconds(deadline.RemainingMillisecondsCappedAt(delay)), "delay"), cancellationToken);
            delay = Math.Min(delay * 2, MaxRetryMilliseconds);
        }
    }

    /// <summary>Accepts one connection before the deadline, or throws <see cref="TimeoutException"/> naming the address.</summary>
    internal static FileDescriptor Accept(FileDescriptor listener, string address, Deadline deadline, DescriptorWaiter waiter, CancellationToken cancellationToken)
    {
        // Held from the wait through accept(): a listener disposed in between must not have its number reused
        // by another socket, which accept() would then take a connection from.
        bool added = false;
        try
        {
            listener.DangerousAddRef(ref added);
            while (true)
            {
                if (!waiter.WaitReady(listener, forWrite: false, deadline, cancellationToken))
                    throw new TimeoutException($"No peer connected to Unix socket '{address}' before the timeout.");
                int r = Native.UnixAccept(listener.Value, out int fd);
                if (r == 0)
                    return new FileDescriptor(fd);
                // EAGAIN: the connection went away between poll and accept; ECONNABORTED likewise.
                if (r != -Errno.EAGAIN && r != -Errno.ECONNABORTED)
                    NativeCallException.Throw("accept", address, -r);
            }
        }
        finally
        {
            if (added)
                listener.DangerousRelease();
        }
    }
}
