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
    private const int MaxNameBytes = 107;

    // Retry back-off for connect while the server is not there yet: there is no wake-up for
    // "a listener appeared", so this is the one place that retries on a timer.
    private const int FirstRetryMilliseconds = 1;
    private const int MaxRetryMilliseconds = 50;

    /// <summary>Splits "@name" into (name, abstract) and checks the length; throws naming the address.</summary>
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

    /// <summary>Binds and listens. A stale socket file left by a dead server is replaced; a live one is not.</summary>
    internal static FileDescriptor Listen(string address, int type)
    {
        var (name, isAbstract) = Parse(address, nameof(address));
        int r = Native.UnixListen(name, isAbstract ? 1 : 0, type, out int fd);
        if (r == -Errno.EADDRINUSE && !isAbstract && IsStaleSocketFile(name, type))
        {
            File.Delete(name);
            r = Native.UnixListen(name, 0, type, out fd);
        }
        if (r == -Errno.EADDRINUSE)
            throw new IOException($"Unix socket address '{address}' is in use (by a live listener or a file that is not a socket).", new NativeCallException("bind", address, Errno.EADDRINUSE));
        NativeCallException.ThrowIfError(r, "bind/listen", address);
        return new FileDescriptor(fd);
    }

    private static bool IsStaleSocketFile(string path, int type)
    {
        if (Native.IsSocket(path) != 1)
            return false;
        int r = Native.UnixConnect(path, 0, type, out int probe);
        if (r == 0)
        {
            Native.Close(probe);
            return false;
        }
        return r == -Errno.ECONNREFUSED;
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
}
