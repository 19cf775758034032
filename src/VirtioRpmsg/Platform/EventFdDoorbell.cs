using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// A doorbell made of two eventfds, one per direction: the default for two processes on one machine.
/// Ring adds 1 to the outbound counter (non-blocking write); Wait polls the inbound counter and reads
/// it to zero. Create one with <see cref="Create"/>, then give the peer its end with
/// <see cref="CreatePeer"/> (same process) or <see cref="DescriptorPassing.SendDoorbell"/> (another process).
/// </summary>
public sealed unsafe class EventFdDoorbell : FileDescriptorDoorbell
{
    private readonly FileDescriptor _inbound;
    private readonly FileDescriptor _outbound;
    // The connection the pair came over, when this doorbell owns it: kept open for the doorbell's life
    // because its close (this process exiting included) is how the peer sees this side go away.
    private DescriptorPassing? _connection;

    // Whether the inbound counter is in blocking mode (see ReadsBlocking): where the kernel can still read
    // it without blocking (EventFdReads). Every inbound is an eventfd (made here, or checked by
    // DescriptorPassing.ReceiveDoorbell). The mode belongs to the open file, shared with the peer, which only
    // writes to it: an eventfd write blocks only when the counter would pass 2^64 - 2.
    private volatile bool _readsBlocking;

    private EventFdDoorbell(FileDescriptor inbound, FileDescriptor outbound, string name) : base(name)
    {
        _inbound = inbound;
        _outbound = outbound;
        _readsBlocking = EventFdReads.NoWaitSupported && Native.SetBlocking(inbound.Value) == 0;
    }

    private protected override bool ReadsBlocking => _readsBlocking;

    private protected override void StopBlockingReads() => _readsBlocking = false;

    /// <summary>Whether long waits block in read() on the inbound counter (see <see cref="FileDescriptorDoorbell"/>).</summary>
    internal bool BlocksInRead => _readsBlocking;

    /// <summary>Creates a fresh pair of eventfds (this side: the host).</summary>
    public static EventFdDoorbell Create(string name = "eventfd")
    {
        ArgumentNullException.ThrowIfNull(name);
        FileDescriptor? inbound = null, outbound = null;
        try
        {
            inbound = NewEventFd(name);
            outbound = NewEventFd(name);
            return new EventFdDoorbell(inbound, outbound, name);
        }
        catch
        {
            inbound?.Dispose();
            outbound?.Dispose();
            throw;
        }
    }

    /// <summary>The other end, in this process: its inbound is our outbound and vice versa (duplicated descriptors).</summary>
    public EventFdDoorbell CreatePeer()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        FileDescriptor? inbound = null, outbound = null;
        try
        {
            inbound = Duplicate(_outbound);
            outbound = Duplicate(_inbound);
            return new EventFdDoorbell(inbound, outbound, Name + " (peer)");
        }
        catch
        {
            inbound?.Dispose();
            outbound?.Dispose();
            throw;
        }
    }

    /// <summary>Builds a doorbell over received descriptors; takes ownership of both.</summary>
    internal static EventFdDoorbell FromDescriptors(FileDescriptor inbound, FileDescriptor outbound, string name) => new(inbound, outbound, name);

    /// <summary>Takes ownership of the connection the pair was exchanged over; closed by <see cref="FileDescriptorDoorbell.Dispose"/>.</summary>
    internal void KeepConnection(DescriptorPassing connection) => _connection = connection;

    /// <summary>The peer's inbound descriptor (our outbound), for passing to another process.</summary>
    internal FileDescriptor PeerInbound => _outbound;

    /// <summary>The peer's outbound descriptor (our inbound), for passing to another process.</summary>
    internal FileDescriptor PeerOutbound => _inbound;

    private protected override FileDescriptor Inbound => _inbound;

    /// <summary>
    /// Adds 1 to the peer's counter. Never blocks: the outbound's open file is the peer's inbound, which the peer puts
    /// in blocking mode (its long waits block in read()), and a blocking eventfd write waits while the counter is at
    /// 2^64 - 2. So the write is made only when poll() finds room; a counter without room (a peer that wrote a
    /// near-2^64 value, or never reads) is already non-zero, which the peer's next wait sees as a ring: false, nothing
    /// lost. One ringer at a time writes (two passing one poll with room for one would leave the second waiting): a
    /// ringer that finds another writing leaves its ring to it (that one writes again after finishing) and returns true.
    /// </summary>
    public override bool Ring()
    {
        if (IsDisposed)
            return false;
        Interlocked.Exchange(ref _ringPending, 1);
        bool delivered = true;
        // The full fences of the exchange above and of the release below: a pending ring is either seen by the
        // writer's look after it released, or its ringer's compare-exchange finds the writer gone and writes itself.
        while (Volatile.Read(ref _ringPending) != 0 && Interlocked.CompareExchange(ref _ringWriter, 1, 0) == 0)
        {
            try
            {
                if (Interlocked.Exchange(ref _ringPending, 0) != 0)
                    delivered = DescriptorWaiter.WriteOne(_outbound); // false: no room (rung already) or closed
            }
            finally
            {
                Interlocked.Exchange(ref _ringWriter, 0);
            }
        }
        return delivered;
    }

    private int _ringPending, _ringWriter;

    private protected override bool Consume(bool throwIfClosed)
    {
        if (!_inbound.TryAddRef())
            throw new ObjectDisposedException(Name);
        try
        {
            ulong count;
            // Never blocking, whatever the file's mode: the peer shares the file and may change its mode at any time.
            int r = EventFdReads.ReadNoWait(_inbound.Value, &count);
            if (r == -Errno.EAGAIN)
                return false;
            NativeCallException.ThrowIfError(r, "read", Name);
            return true;
        }
        finally
        {
            _inbound.DangerousRelease();
        }
    }

    // A wait with no ring for its whole timeout (the dispatcher's idle re-check, not per message): over a kept
    // connection, see whether the peer is still there. An eventfd never says that its writer went away, but the
    // connection the pair came over does: once it reports a hang-up the peer closed it (it exited, or was killed); a
    // message it still sends there only makes it readable. Without this a host whose remote died kept "running", its sends filling the ring
    // and its receives waiting for ever; the remote side already watched the host's connection the same way.
    private protected override bool TimedOut()
    {
        ThrowIfPeerGone();
        return false;
    }

    /// <summary>Whether this doorbell keeps the connection its pair came over (<see cref="ThrowIfPeerGone"/> can see the peer leave).</summary>
    internal bool KeepsConnection => _connection is not null;

    /// <summary>
    /// Over a kept connection: throws <see cref="DoorbellClosedException"/> when the peer closed it. For a side that
    /// never waits (a caller-polled device's drain), which no timed-out wait would tell.
    /// </summary>
    internal void ThrowIfPeerGone()
    {
        if (_connection is { } connection && !IsDisposed && PeerClosed(connection.Socket))
            throw new DoorbellClosedException(Name, $"the peer closed the connection its doorbell came over ({connection.Address}); it has gone away and no ring can arrive.");
    }

    private static bool PeerClosed(FileDescriptor socket)
    {
        if (!socket.TryAddRef())
            return false; // closed by our own Dispose meanwhile: not the peer's doing
        try
        {
            return UnixSockets.IsHungUp(socket.Value); // a message the peer still sends there is not the peer leaving
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    private protected override void DisposeCore()
    {
        _inbound.Dispose();
        _outbound.Dispose();
        _connection?.Dispose();
    }

    private static FileDescriptor NewEventFd(string name)
    {
        NativeCallException.ThrowIfError(Native.EventFd(out int fd), "eventfd", name);
        return new FileDescriptor(fd);
    }

    private static FileDescriptor Duplicate(FileDescriptor fd)
    {
        if (!fd.TryAddRef())
            throw new ObjectDisposedException(nameof(EventFdDoorbell));
        try
        {
            NativeCallException.ThrowIfError(Native.Dup(fd.Value, out int copy), "dup", $"fd {fd.Value}");
            return new FileDescriptor(copy);
        }
        finally
        {
            fd.DangerousRelease();
        }
    }
}
