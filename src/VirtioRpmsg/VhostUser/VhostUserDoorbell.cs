using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The doorbell of a vhost-user device: the guest kicks through one eventfd per queue, the device interrupts
/// through one call descriptor per queue (virtio_uml passes a pipe's write end; 8 bytes interrupt). Ring writes
/// every call descriptor (an interrupt on a queue with nothing new costs the guest one empty check), Wait
/// polls every kick descriptor. It also remembers whether the guest ever kicked: a first kick is the only
/// "driver ready" a vhost-user front-end gives (a driver sends no notification before DRIVER_OK). The
/// descriptors stay the queues' (<see cref="VhostUserVring"/>); the back-end disposes this doorbell before it
/// closes them.
/// </summary>
internal sealed unsafe class VhostUserDoorbell : IDoorbell
{
    private readonly FileDescriptor[] _kicks;
    private readonly CallTarget[] _calls;
    private readonly DescriptorWaiter _waiter;
    private volatile bool _kicked;
    private volatile bool _disposed;

    internal VhostUserDoorbell(FileDescriptor[] kicks, FileDescriptor[] calls, string name)
    {
        _kicks = kicks;
        _calls = Array.ConvertAll(calls, c => new CallTarget(c));
        Name = name;
        _waiter = new DescriptorWaiter(name + " kicks");
    }

    internal string Name { get; }

    /// <summary>
    /// True once any queue was kicked (seen by a Wait or Drain). Not per queue: a front-end may pass one eventfd
    /// for both queues, and a kick landing between the reads of queue 0's and queue 1's descriptor is then read
    /// as queue 1's (a device that waited for queue 0 never went live; seen once under load).
    /// </summary>
    internal bool WasKicked => _kicked;

    /// <inheritdoc />
    public bool Ring()
    {
        if (_disposed)
            return false;
        bool delivered = false;
        ulong one = 1;
        for (int i = 0; i < _calls.Length; i++)
        {
            // Closed: the device is being torn down, or the front-end switched the descriptor (the new one is in place
            // before the old one closes, so the interrupt goes there instead of being lost).
            var call = Volatile.Read(ref _calls[i]);
            bool added;
            while (!(added = call.Descriptor.TryAddRef()))
            {
                var now = Volatile.Read(ref _calls[i]);
                if (ReferenceEquals(now, call))
                    break;
                call = now;
            }
            if (!added)
                continue;
            try
            {
                // Never blocking, whatever the file's mode: the front-end shares the file (it made it non-blocking for us
                // when it arrived) and may put it back in blocking mode, then stop reading (seed 001: a notify must never
                // sleep). EAGAIN means the guest has interrupts pending already.
                delivered |= WriteNoWait(call, &one) == sizeof(ulong);
            }
            finally
            {
                call.Descriptor.DangerousRelease();
            }
        }
        return delivered;
    }

    /// <summary>
    /// SET_VRING_CALL on a live device: <paramref name="queue"/>'s interrupts go to <paramref name="call"/> from now on
    /// (QEMU switches the descriptor whenever the guest masks or unmasks the queue's vector). The caller closes the old
    /// descriptor after this returns; a ring that raced with the switch and found it closed writes the new one.
    /// </summary>
    internal void ReplaceCall(int queue, FileDescriptor call)
    {
        // A new target: the new file may honour RWF_NOWAIT (a pipe) where the old one did not.
        Volatile.Write(ref _calls[queue], new CallTarget(call));
    }

    // RWF_NOWAIT where the file honours it (a pipe, virtio_uml's socketpair); an eventfd does not, and there a write
    // blocks only on a counter at 2^64 - 2 (the guest can put it there), which a poll for room first reports.
    private static int WriteNoWait(CallTarget call, ulong* value)
    {
        int fd = call.Descriptor.Value;
        if (!call.Poll)
        {
            int r = Native.WriteNoWait(fd, value, sizeof(ulong));
            if (r != -Errno.EOPNOTSUPP)
                return r;
            call.Poll = true;
        }
        return Native.WriteIfRoom(fd, value, sizeof(ulong));
    }

    /// <summary>A call descriptor and whether its file ignores RWF_NOWAIT (an eventfd: a ring polls for room before it writes).</summary>
    private sealed class CallTarget(FileDescriptor descriptor)
    {
        internal FileDescriptor Descriptor { get; } = descriptor;

        internal volatile bool Poll;
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
                // The front-end shares the file and may put it in blocking mode (an EventFdDoorbell over it does).
                int r = EventFdReads.ReadNoWait(_kicks[i].Value, &count);
                if (r == -Errno.EAGAIN)
                    continue;
                NativeCallException.ThrowIfError(r, "read kick", $"{Name} queue {i}");
                _kicked = true;
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
