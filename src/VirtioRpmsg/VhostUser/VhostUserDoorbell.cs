using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The doorbell of a vhost-user device: the guest kicks through one eventfd per queue, the device interrupts
/// through one call descriptor per queue (virtio_uml passes a pipe's write end; 8 bytes interrupt). Ring writes
/// every call descriptor (an interrupt on a queue with nothing new costs the guest one empty check), Wait
/// polls every kick descriptor. It also remembers which queues have ever been kicked: the first kick on
/// queue 0 (the guest's rx queue, filled with its receive buffers) is the only "driver ready" a vhost-user
/// front-end gives. The descriptors stay the queues' (<see cref="VhostUserVring"/>); the back-end disposes
/// this doorbell before it closes them.
/// </summary>
internal sealed unsafe class VhostUserDoorbell : IDoorbell
{
    private readonly FileDescriptor[] _kicks;
    private readonly FileDescriptor[] _calls;
    private readonly DescriptorWaiter _waiter;
    private readonly bool[] _kicked;
    private volatile bool _disposed;

    internal VhostUserDoorbell(FileDescriptor[] kicks, FileDescriptor[] calls, string name)
    {
        _kicks = kicks;
        _calls = calls;
        _kicked = new bool[kicks.Length];
        Name = name;
        _waiter = new DescriptorWaiter(name + " kicks");
    }

    internal string Name { get; }

    /// <summary>True once queue <paramref name="queue"/> was kicked (seen by a Wait or Drain).</summary>
    internal bool WasKicked(int queue) => Volatile.Read(ref _kicked[queue]);

    /// <inheritdoc />
    public bool Ring()
    {
        if (_disposed)
            return false;
        bool delivered = false;
        ulong one = 1;
        foreach (var call in _calls)
        {
            bool added = false;
            try
            {
                call.DangerousAddRef(ref added);
                // Non-blocking (set when the descriptor arrived): EAGAIN means the guest has interrupts pending already.
                delivered |= Native.Write(call.Value, &one, sizeof(ulong)) == sizeof(ulong);
            }
            catch (ObjectDisposedException)
            {
                // The queue closed it: the device is being torn down.
            }
            finally
            {
                if (added)
                    call.DangerousRelease();
            }
        }
        return delivered;
    }

    /// <inheritdoc />
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MappingLease.ThrowIfHeld("IDoorbell.Wait");
        var deadline = Deadline.From(timeout, nameof(timeout));
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (_waiter.WaitAnyReadable(_kicks, deadline, cancellationToken) == 0)
                return false;
            if (Consume())
                return true;
        }
    }

    /// <inheritdoc />
    public bool Drain()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Consume();
    }

    private bool Consume()
    {
        bool any = false;
        for (int i = 0; i < _kicks.Length; i++)
        {
            bool added = false;
            try
            {
                _kicks[i].DangerousAddRef(ref added);
                ulong count;
                int r = Native.Read(_kicks[i].Value, &count, sizeof(ulong));
                if (r == -Errno.EAGAIN)
                    continue;
                NativeCallException.ThrowIfError(r, "read kick", $"{Name} queue {i}");
                Volatile.Write(ref _kicked[i], true);
                any = true;
            }
            finally
            {
                if (added)
                    _kicks[i].DangerousRelease();
            }
        }
        return any;
    }

    /// <summary>Wakes a waiting thread (it gets <see cref="ObjectDisposedException"/>); the descriptors stay open.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _waiter.Dispose();
    }

    public override string ToString() => $"vhost-user doorbell {Name}";
}
