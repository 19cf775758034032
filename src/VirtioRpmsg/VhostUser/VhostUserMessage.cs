using VirtioRpmsg.Interop;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// One received request: the checked header, a private copy of the payload and the descriptors that came
/// with it. Descriptors not taken by the handler are closed on dispose, so a hostile message cannot make
/// this process leak them.
/// </summary>
internal sealed class VhostUserMessage : IDisposable
{
    private readonly FileDescriptor?[] _descriptors;

    internal VhostUserMessage(VhostUserHeader header, byte[] payload, FileDescriptor[] descriptors)
    {
        Header = header;
        Payload = payload;
        _descriptors = descriptors;
    }

    internal VhostUserHeader Header { get; }

    internal VhostUserRequest Request => (VhostUserRequest)Header.Request;

    internal byte[] Payload { get; }

    internal int DescriptorCount => _descriptors.Length;

    /// <summary>Checks that exactly <paramref name="expected"/> descriptors came with the message.</summary>
    internal void RequireDescriptors(int expected)
    {
        if (_descriptors.Length != expected)
            throw new VhostUserProtocolException(FaultRule.VhostUserDescriptorCount, "descriptors", (ulong)_descriptors.Length,
                $"vhost-user {Request}: {_descriptors.Length} descriptors passed, expected {expected}");
    }

    /// <summary>Takes ownership of descriptor <paramref name="index"/> (it is no longer closed with the message).</summary>
    internal FileDescriptor TakeDescriptor(int index)
    {
        var fd = _descriptors[index] ?? throw new InvalidOperationException($"descriptor {index} of {Request} was already taken");
        _descriptors[index] = null;
        return fd;
    }

    /// <summary>Takes descriptor 0, a queue's kick or call, in non-blocking mode (seed 001: a notify must never sleep).</summary>
    internal FileDescriptor TakeNonBlocking(int queue)
    {
        var fd = TakeDescriptor(0);
        int r = Native.SetNonBlocking(fd.Value);
        if (r < 0)
        {
            fd.Dispose();
            throw new VhostUserProtocolException(FaultRule.VhostUserBadDescriptor, $"vring[{queue}].fd", (ulong)(-r),
                $"vhost-user {Request}: queue {queue} descriptor cannot be made non-blocking: {Errno.Describe(-r)}");
        }
        return fd;
    }

    /// <summary>
    /// Takes descriptor 0 as a queue's kick: an eventfd (as the vhost-user specification says), non-blocking. The doorbell
    /// counts every successful read as a kick; a socket or pipe whose other end is closed reads end-of-file at once, every
    /// time, and would wake the dispatcher in a loop with nothing kicked.
    /// </summary>
    internal FileDescriptor TakeKick(int queue)
    {
        var fd = TakeNonBlocking(queue);
        if (!Platform.EventFdReads.IsEventFd(fd))
        {
            fd.Dispose();
            throw new VhostUserProtocolException(FaultRule.VhostUserBadDescriptor, $"vring[{queue}].fd", 0,
                $"vhost-user {Request}: queue {queue} kick descriptor is not an eventfd");
        }
        return fd;
    }

    public void Dispose()
    {
        for (int i = 0; i < _descriptors.Length; i++)
        {
            _descriptors[i]?.Dispose();
            _descriptors[i] = null;
        }
    }
}
