using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// The listening end of <see cref="DescriptorPassing"/>: a SOCK_SEQPACKET socket bound to a Linux
/// abstract name, so nothing is left on disk whatever happens to the process.
/// </summary>
public sealed class DescriptorListener : IDisposable
{
    private readonly FileDescriptor _socket;
    private readonly DescriptorWaiter _waiter;

    private DescriptorListener(FileDescriptor socket, string name)
    {
        _socket = socket;
        Name = name;
        _waiter = new DescriptorWaiter("@" + name);
    }

    /// <summary>The abstract socket name (without the leading '@').</summary>
    public string Name { get; }

    /// <summary>Starts listening on abstract name <paramref name="name"/>.</summary>
    public static DescriptorListener Listen(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var socket = UnixSockets.Listen("@" + name, Native.SockSeqPacket);
        try
        {
            return new DescriptorListener(socket, name);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Accepts one peer; <see cref="TimeoutException"/> naming the socket if none connects in time.</summary>
    public DescriptorPassing Accept(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = Deadline.From(timeout, nameof(timeout));
        var socket = UnixSockets.Accept(_socket, "@" + Name, deadline, _waiter, cancellationToken);
        return DescriptorPassing.Wrap(socket, "@" + Name);
    }

    /// <summary>Stops listening; the abstract socket name is released.</summary>
    public void Dispose()
    {
        _waiter.Dispose();
        _socket.Dispose();
    }
}
