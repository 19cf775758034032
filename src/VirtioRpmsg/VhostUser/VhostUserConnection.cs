using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The back-end's end of a vhost-user stream socket: reads one request at a time (header, payload and the
/// SCM_RIGHTS descriptors that come with it) and writes replies. Reads wait without a time limit (a guest may
/// stay quiet for as long as it runs) but are cancellable; a reply that cannot be written within
/// <see cref="ReplyTimeout"/> is an error (the front-end waits for it with interrupts off). One thread only.
/// </summary>
internal sealed unsafe class VhostUserConnection : IDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);
    private readonly FileDescriptor _socket;
    private readonly DescriptorWaiter _waiter;

    internal VhostUserConnection(FileDescriptor socket, string name)
    {
        _socket = socket;
        Name = name;
        _waiter = new DescriptorWaiter(name);
    }

    internal string Name { get; }

    /// <summary>The next request, or null when the front-end closed the connection between messages.</summary>
    /// <exception cref="VhostUserProtocolException">A bad header, an oversized payload, or too many descriptors.</exception>
    /// <exception cref="EndOfStreamException">The front-end closed the connection in the middle of a message.</exception>
    internal VhostUserMessage? Receive(CancellationToken cancellationToken)
    {
        var descriptors = new List<FileDescriptor>();
        try
        {
            Span<byte> headerBytes = stackalloc byte[VhostUserHeader.Length];
            if (!ReadExactly(headerBytes, descriptors, atMessageStart: true, cancellationToken))
                return null;
            var header = VhostUserHeader.Parse(headerBytes);
            var payload = new byte[header.Size];
            ReadExactly(payload, descriptors, atMessageStart: false, cancellationToken);
            var message = new VhostUserMessage(header, payload, descriptors.ToArray());
            descriptors.Clear();
            return message;
        }
        finally
        {
            foreach (var fd in descriptors)
                fd.Dispose();
        }
    }

    private bool ReadExactly(Span<byte> destination, List<FileDescriptor> descriptors, bool atMessageStart, CancellationToken cancellationToken)
    {
        int got = 0;
        int* fds = stackalloc int[Native.MaxPassedDescriptors];
        while (got < destination.Length)
        {
            int room = Native.MaxPassedDescriptors - descriptors.Count;
            int r;
            int count;
            fixed (byte* p = destination)
                r = Native.RecvFds(_socket.Value, p + got, destination.Length - got, fds, room, out count);
            for (int i = 0; r >= 0 && i < count; i++)
                descriptors.Add(new FileDescriptor(fds[i]));
            if (r == -Errno.EAGAIN)
            {
                _waiter.WaitReady(_socket, forWrite: false, Deadline.Within(Timeout.InfiniteTimeSpan), cancellationToken);
                continue;
            }
            if (r == -Errno.EMSGSIZE)
                throw new VhostUserProtocolException(FaultRule.VhostUserDescriptorCount, "descriptors", (ulong)Native.MaxPassedDescriptors + 1,
                    $"vhost-user message on '{Name}' carries more than {Native.MaxPassedDescriptors} descriptors");
            if (r == 0 || r == -Errno.ECONNRESET)
            {
                if (atMessageStart && got == 0 && descriptors.Count == 0)
                    return false;
                throw new EndOfStreamException($"vhost-user front-end on '{Name}' closed the connection in the middle of a message ({got} of {destination.Length} bytes read)");
            }
            NativeCallException.ThrowIfError(r, "recvmsg", Name);
            got += r;
        }
        return true;
    }

    /// <summary>Sends a reply to <paramref name="request"/> with <paramref name="payload"/>.</summary>
    internal void Reply(uint request, ReadOnlySpan<byte> payload)
    {
        Span<byte> message = stackalloc byte[VhostUserHeader.Length + payload.Length];
        VhostUserHeader.WriteReply(message, request, (uint)payload.Length);
        payload.CopyTo(message[VhostUserHeader.Length..]);
        var deadline = Deadline.Within(ReplyTimeout);
        int sent = 0;
        while (sent < message.Length)
        {
            int r;
            fixed (byte* p = message)
                r = Native.Send(_socket.Value, p + sent, message.Length - sent);
            if (r == -Errno.EAGAIN)
            {
                if (!_waiter.WaitReady(_socket, forWrite: true, deadline, CancellationToken.None))
                    throw new TimeoutException($"vhost-user front-end on '{Name}' did not take a reply within {ReplyTimeout.TotalSeconds} s");
                continue;
            }
            NativeCallException.ThrowIfError(r, "send", Name);
            sent += r;
        }
    }

    public void Dispose()
    {
        _waiter.Dispose();
        _socket.Dispose();
    }
}
