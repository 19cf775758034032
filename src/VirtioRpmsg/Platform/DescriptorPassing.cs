using System.Buffers.Binary;
using System.Text;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Passes descriptors (a memfd region, an eventfd doorbell) to another process over a Unix-domain
/// SOCK_SEQPACKET socket with SCM_RIGHTS, so that the peer maps the same memory and rings the same
/// doorbells. Names are Linux abstract socket names (nothing on disk). Received descriptors are
/// close-on-exec. Everything received is validated before use: it comes from another process.
/// </summary>
/// <remarks>
/// Message: magic "VRFD" (u32 LE), kind (u32), device address (u64), size (i64), name length (u16),
/// name (UTF-8); the descriptors travel as ancillary data (1 for memory, 2 for a doorbell).
/// </remarks>
public sealed unsafe class DescriptorPassing : IDisposable
{
    private const uint Magic = 0x44465256; // "VRFD" read as little-endian
    private const uint KindMemory = 1;
    private const uint KindEventFdDoorbell = 2;
    private const int HeaderSize = 26;
    private const int MaxNameBytes = 200;
    private const int MaxMessage = HeaderSize + MaxNameBytes;
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    private readonly FileDescriptor _socket;
    private readonly DescriptorWaiter _waiter;

    private DescriptorPassing(FileDescriptor socket, string address)
    {
        _socket = socket;
        Address = address;
        _waiter = new DescriptorWaiter(address);
    }

    /// <summary>The socket (tests inject malformed messages through it).</summary>
    internal FileDescriptor Socket => _socket;

    /// <summary>The peer's address ('@' + abstract name), for messages.</summary>
    public string Address { get; }

    /// <summary>Connects to a <see cref="DescriptorListener"/> on abstract name <paramref name="name"/>, retrying until it exists.</summary>
    public static DescriptorPassing Connect(string name, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        string address = "@" + name;
        var deadline = Deadline.From(timeout, nameof(timeout));
        using var waiter = new DescriptorWaiter(address);
        return Wrap(UnixSockets.Connect(address, Native.SockSeqPacket, deadline, waiter, cancellationToken), address);
    }

    /// <summary>Two connected ends in this process (tests, in-process loopback).</summary>
    public static (DescriptorPassing First, DescriptorPassing Second) CreatePair()
    {
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockSeqPacket, out int first0, out int second0), "socketpair", "descriptor passing");
        var a = new FileDescriptor(first0);
        var b = new FileDescriptor(second0);
        DescriptorPassing? first = null;
        try
        {
            first = Wrap(a, "socketpair");
            return (first, Wrap(b, "socketpair"));
        }
        catch
        {
            first?.Dispose();
            b.Dispose();
            throw;
        }
    }

    internal static DescriptorPassing Wrap(FileDescriptor socket, string address)
    {
        try
        {
            return new DescriptorPassing(socket, address);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // ---- send ------------------------------------------------------------------------------

    /// <summary>Sends a memfd-backed region (its descriptor, device address, size and name).</summary>
    public void SendMemory(SharedMemoryRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        var fd = region.Descriptor
            ?? throw new ArgumentException($"Region '{region.Name}' is backed by {region.Backing}, not a memfd; only memfd regions can be passed.", nameof(region));
        Send(KindMemory, region.DeviceAddress, region.Size, region.Name, fd, null);
    }

    /// <summary>Sends the peer's end of <paramref name="doorbell"/>: our outbound becomes its inbound and vice versa.</summary>
    public void SendDoorbell(EventFdDoorbell doorbell)
    {
        ArgumentNullException.ThrowIfNull(doorbell);
        Send(KindEventFdDoorbell, 0, 0, doorbell.Name, doorbell.PeerInbound, doorbell.PeerOutbound);
    }

    /// <summary>Sends a doorbell message carrying any two descriptors (tests: what a receiver does with ones that are not eventfds).</summary>
    internal void SendDoorbellDescriptors(string name, FileDescriptor first, FileDescriptor second) =>
        Send(KindEventFdDoorbell, 0, 0, name, first, second);

    private void Send(uint kind, ulong deviceAddress, long size, string name, FileDescriptor first, FileDescriptor? second)
    {
        byte* message = stackalloc byte[MaxMessage];
        var span = new Span<byte>(message, MaxMessage);
        int nameBytes = Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, MaxNameBytes / 4)), span[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], kind);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], deviceAddress);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], size);
        BinaryPrimitives.WriteUInt16LittleEndian(span[24..], (ushort)nameBytes);
        bool socketRef = false, firstRef = false, secondRef = false;
        try
        {
            // The reference keeps our socket's number from being closed and reused by an unrelated socket while
            // sendmsg() uses it (a closed one throws ObjectDisposedException here): a region's memfd sent into
            // whatever socket got the number would hand the memory to a stranger.
            HoldSocket(ref socketRef);
            first.DangerousAddRef(ref firstRef);
            second?.DangerousAddRef(ref secondRef);
            int* fds = stackalloc int[2];
            fds[0] = first.Value;
            fds[1] = second?.Value ?? -1;
            int count = second is null ? 1 : 2;
            var deadline = Deadline.From(SendTimeout, nameof(SendTimeout));
            while (true)
            {
                int r = Native.SendFds(_socket.Value, message, HeaderSize + nameBytes, fds, count);
                if (r >= 0)
                    return;
                if (r != -Errno.EAGAIN)
                    NativeCallException.Throw("sendmsg", Address, -r);
                if (!_waiter.WaitReady(_socket, forWrite: true, deadline, CancellationToken.None))
                    throw new TimeoutException($"Peer '{Address}' did not take a descriptor message within {SendTimeout.TotalSeconds} s.");
            }
        }
        finally
        {
            if (secondRef)
                second!.DangerousRelease();
            if (firstRef)
                first.DangerousRelease();
            if (socketRef)
                _socket.DangerousRelease();
        }
    }

    // ---- receive ---------------------------------------------------------------------------

    /// <summary>Receives a region sent with <see cref="SendMemory"/> and maps it (the region owns the descriptor).</summary>
    /// <remarks>The fd must be sealed against shrinking (F_SEAL_SHRINK), else <see cref="SharedMemorySealException"/>: a peer that could shrink it could kill this process with SIGBUS.</remarks>
    public SharedMemoryRegion ReceiveMemory(TimeSpan timeout, CancellationToken cancellationToken = default, bool guardPages = false, SharedMemoryType? memoryType = null, BarrierDomain barriers = BarrierDomain.InnerShareable)
    {
        var received = Receive(KindMemory, 1, timeout, cancellationToken);
        var fd = received.First;
        try
        {
            return SharedMemoryRegion.FromDescriptor(fd, "memfd:" + received.Name + " (received)", received.DeviceAddress, received.Size, guardPages, memoryType, barriers);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Receives a doorbell sent with <see cref="SendDoorbell"/>.</summary>
    public EventFdDoorbell ReceiveDoorbell(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var received = Receive(KindEventFdDoorbell, 2, timeout, cancellationToken);
        try
        {
            // The pair's counters are read and written 8 bytes at a time and waited on in read(): anything else
            // (a pipe, a socket, a file) would take bytes that are not rings, or a read that nothing can end.
            if (!EventFdReads.IsEventFd(received.First) || !EventFdReads.IsEventFd(received.Second!))
                throw new InvalidDataException($"Doorbell message from '{Address}' ('{received.Name}') carries a descriptor that is not an eventfd; discarded.");
            return EventFdDoorbell.FromDescriptors(received.First, received.Second!, received.Name + " (received)");
        }
        catch
        {
            received.First.Dispose();
            received.Second!.Dispose();
            throw;
        }
    }

    private readonly record struct Received(FileDescriptor First, FileDescriptor? Second, ulong DeviceAddress, long Size, string Name);

    private Received Receive(uint expectedKind, int expectedCount, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Deadline.From(timeout, nameof(timeout));
        byte* message = stackalloc byte[MaxMessage];
        int* fds = stackalloc int[Native.MaxPassedDescriptors];
        // Held across every wait and recvmsg(), not just each poll: a Dispose in between must not let the number
        // be reused by another socket, whose messages (and descriptors) this would then take.
        bool socketRef = false;
        try
        {
            HoldSocket(ref socketRef);
            while (true)
            {
                int n = Native.RecvFds(_socket.Value, message, MaxMessage, fds, Native.MaxPassedDescriptors, out int count);
                if (n == -Errno.EAGAIN)
                {
                    if (!_waiter.WaitReady(_socket, forWrite: false, deadline, cancellationToken))
                        throw new TimeoutException($"No descriptor message from '{Address}' within {timeout.TotalMilliseconds} ms.");
                    continue;
                }
                if (n == -Errno.EMSGSIZE)
                    throw new InvalidDataException($"Descriptor message from '{Address}' is larger than {MaxMessage} bytes or carries more than {Native.MaxPassedDescriptors} descriptors; discarded.");
                NativeCallException.ThrowIfError(n, "recvmsg", Address);
                return Own(new ReadOnlySpan<byte>(message, n), fds, count, expectedKind, expectedCount);
            }
        }
        finally
        {
            if (socketRef)
                _socket.DangerousRelease();
        }
    }

    /// <summary>Takes ownership of the <paramref name="count"/> received descriptors and validates the message; closes them if it is bad.</summary>
    private Received Own(ReadOnlySpan<byte> message, int* fds, int count, uint expectedKind, int expectedCount)
    {
        var owned = new FileDescriptor[count];
        for (int i = 0; i < count; i++)
            owned[i] = new FileDescriptor(fds[i]);
        try
        {
            if (message.Length == 0)
                ThrowEmpty(count);
            var header = Validate(message, expectedKind, expectedCount, count);
            return new Received(owned[0], count > 1 ? owned[1] : null, header.DeviceAddress, header.Size, header.Name);
        }
        catch
        {
            foreach (var fd in owned)
                fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// recvmsg() read 0 bytes: the end of the channel, or an empty message from a peer that is still there (a
    /// SEQPACKET socket delivers those too, descriptors and all). Only the first is <see cref="EndOfStreamException"/>,
    /// which callers take as "the peer went away".
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowEmpty(int count)
    {
        if (count > 0)
            throw new InvalidDataException($"Descriptor message from '{Address}' is empty (0 bytes) but carries {count} descriptors; discarded.");
        // The end of the channel is for good: the socket then reports a hang-up (POLLHUP / POLLRDHUP). The caller holds a reference.
        if (UnixSockets.IsHungUp(_socket.Value))
            throw new EndOfStreamException($"Peer '{Address}' closed the descriptor channel.");
        throw new InvalidDataException($"Descriptor message from '{Address}' is empty (0 bytes), shorter than the {HeaderSize}-byte header; discarded.");
    }

    private (ulong DeviceAddress, long Size, string Name) Validate(ReadOnlySpan<byte> message, uint expectedKind, int expectedCount, int count)
    {
        // Read each field once into a local, check it, then use only the local.
        if (message.Length < HeaderSize)
            throw new InvalidDataException($"Descriptor message from '{Address}' is {message.Length} bytes, shorter than the {HeaderSize}-byte header.");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(message);
        if (magic != Magic)
            throw new InvalidDataException($"Descriptor message from '{Address}': magic is 0x{magic:X8}, expected 0x{Magic:X8}.");
        uint kind = BinaryPrimitives.ReadUInt32LittleEndian(message[4..]);
        if (kind != expectedKind)
            throw new InvalidDataException($"Descriptor message from '{Address}': kind is {kind}, expected {expectedKind}.");
        if (count != expectedCount)
            throw new InvalidDataException($"Descriptor message from '{Address}' (kind {kind}) carries {count} descriptors, expected {expectedCount}.");
        ulong deviceAddress = BinaryPrimitives.ReadUInt64LittleEndian(message[8..]);
        long size = BinaryPrimitives.ReadInt64LittleEndian(message[16..]);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(message[24..]);
        if (nameLength > message.Length - HeaderSize)
            throw new InvalidDataException($"Descriptor message from '{Address}': name length is {nameLength}, but only {message.Length - HeaderSize} bytes follow the header.");
        return (deviceAddress, size, Encoding.UTF8.GetString(message.Slice(HeaderSize, nameLength)));
    }

    /// <summary>Adds a reference to the socket (release it after the native calls); <see cref="ObjectDisposedException"/> once disposed.</summary>
    private void HoldSocket(ref bool added)
    {
        added = _socket.TryAddRef();
        ObjectDisposedException.ThrowIf(!added, this);
    }

    /// <summary>Closes the connection; the peer sees end of stream.</summary>
    public void Dispose()
    {
        _waiter.Dispose();
        _socket.Dispose();
    }
}
