using Microsoft.Extensions.Logging;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// Serves rpmsg (virtio device 7) to vhost-user front-ends, such as a User-Mode Linux kernel started with
/// <c>virtio_uml.device=SOCKET:7</c>, which then runs its own virtio_rpmsg_bus against this process. The server
/// listens on a Unix socket and serves one guest at a time; each guest (and each time a guest sets its queues
/// up again) gets a fresh remote <see cref="Rpmsg.RpmsgDevice"/>, handed to
/// <see cref="VhostUserRpmsgOptions.DeviceCreated"/> for its endpoints. When a guest dies, resets or breaks
/// the protocol, its device is stopped, its memory unmapped and its descriptors closed before the next guest
/// is accepted, so nothing from one guest is ever reused for another.
/// </summary>
public sealed class VhostUserRpmsgServer : IDisposable
{
    private readonly FileDescriptor _listener;
    private readonly DescriptorWaiter _waiter;
    private readonly VhostUserRpmsgOptions _options;
    private int _guests;
    private int _disposed;

    /// <summary>Listens on <paramref name="socketPath"/> (a file path, or '@name' for an abstract socket); a stale socket file is replaced.</summary>
    public VhostUserRpmsgServer(string socketPath, VhostUserRpmsgOptions? options = null)
    {
        _options = options ?? new VhostUserRpmsgOptions();
        _options.Validate();
        _listener = UnixSockets.Listen(socketPath, Native.SockStream);
        SocketPath = socketPath;
        _waiter = new DescriptorWaiter(socketPath);
    }

    /// <summary>Where the server listens.</summary>
    public string SocketPath { get; }

    /// <summary>Guests connected so far.</summary>
    public int GuestsServed => Volatile.Read(ref _guests);

    /// <summary>Serves guests one after another until <paramref name="cancellationToken"/> is cancelled (then throws <see cref="OperationCanceledException"/>).</summary>
    public void Run(CancellationToken cancellationToken)
    {
        while (true)
            ServeOne(Timeout.InfiniteTimeSpan, cancellationToken);
    }

    /// <summary>
    /// Waits up to <paramref name="acceptTimeout"/> for a guest and serves it until it leaves; returns the
    /// guest's fault (null for an orderly close). Throws <see cref="TimeoutException"/> when nobody connected.
    /// </summary>
    public Fault? ServeOne(TimeSpan acceptTimeout, CancellationToken cancellationToken = default)
    {
        var socket = UnixSockets.Accept(_listener, SocketPath, Deadline.From(acceptTimeout, nameof(acceptTimeout)), _waiter, cancellationToken);
        return Serve(socket, cancellationToken);
    }

    /// <summary>Serves one connected front-end (taking the socket) until it leaves.</summary>
    internal Fault? Serve(FileDescriptor socket, CancellationToken cancellationToken)
    {
        int guest = Interlocked.Increment(ref _guests);
        var backend = new VhostUserRpmsgBackend(socket, _options, $"{SocketPath} guest {guest}");
        Fault? fault = null;
        try
        {
            _options.Logger.LogInformation("vhost-user {Socket}: guest {Guest} connected", SocketPath, guest);
            _options.GuestConnected?.Invoke(guest);
            fault = backend.Run(cancellationToken);
        }
        finally
        {
            backend.Dispose();
            _options.Logger.LogInformation("vhost-user {Socket}: guest {Guest} gone: {Reason}", SocketPath, guest, backend.EndReason);
            _options.GuestDisconnected?.Invoke(guest, fault, backend.EndReason);
        }
        return fault;
    }

    /// <summary>Stops listening and removes the socket file.</summary>
    public void Dispose()
    {
        // Once only: a second call would delete the file of a newer server on the same path.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _waiter.Dispose();
        // The file goes while our listener still holds the path: once it is closed, a newer listener may
        // replace the (then stale) file, and deleting after that would delete the newer one's.
        if (!SocketPath.StartsWith('@'))
        {
            try
            {
                File.Delete(SocketPath);
            }
            catch (IOException)
            {
                // Someone else's now, or gone: nothing to clean.
            }
        }
        _listener.Dispose();
    }
}
