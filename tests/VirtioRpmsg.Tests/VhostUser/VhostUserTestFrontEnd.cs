using System.Buffers.Binary;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.VhostUser;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// A vhost-user front-end written for tests, standing in for User-Mode Linux's virtio_uml: it connects to a
/// back-end over a socketpair, sends raw requests (with descriptors), reads replies, and can play a whole
/// guest: memfd "guest memory" at a non-zero guest physical address, virtio_uml's request sequence, and one
/// of our own host-role <see cref="RpmsgDevice"/>s as the guest's virtio_rpmsg_bus over that memory.
/// </summary>
internal sealed class VhostUserTestFrontEnd : IDisposable
{
    internal const ulong GuestBase = 0x4000_0000;
    internal const long MemorySize = 0x100000;
    internal const ulong Vring0 = GuestBase + 0x4000;
    internal const ulong Vring1 = GuestBase + 0x8000;
    internal const ulong Pool = GuestBase + 0x10000;
    internal const int Num = 256;

    private readonly FileDescriptor _socket;
    private readonly DescriptorWaiter _waiter = new("test front-end");
    private readonly CancellationTokenSource _stop = new();

    internal VhostUserTestFrontEnd(VhostUserRpmsgServer server)
    {
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out int ours, out int theirs), "socketpair", "vhost-user test");
        _socket = new FileDescriptor(ours);
        var backendEnd = new FileDescriptor(theirs);
        Result = Task.Factory.StartNew(() => server.Serve(backendEnd, _stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Connects to a listening back-end at <paramref name="address"/> (its outcome is not observable here).</summary>
    internal VhostUserTestFrontEnd(string address)
    {
        _socket = UnixSockets.Connect(address, Native.SockStream, Deadline.Within(TimeSpan.FromSeconds(30)), _waiter, CancellationToken.None);
        Result = Task.FromResult<Fault?>(null);
    }

    /// <summary>The back-end's outcome: its fault, or null for an orderly close.</summary>
    internal Task<Fault?> Result { get; }

    internal SharedMemoryRegion? Memory { get; private set; }
    internal EventFdDoorbell? Doorbell { get; private set; }
    internal RpmsgDevice? Host { get; private set; }

    internal System.Collections.Concurrent.ConcurrentDictionary<string, uint> Announced { get; } = new();

    /// <summary>Waits (bounded) until the host device is running and the back-end's device has announced at least one service.</summary>
    internal void WaitForAnnouncementOrLinkUp() =>
        Assert.True(SpinWait.SpinUntil(() => !Announced.IsEmpty, TimeSpan.FromSeconds(30)), "the back-end announced nothing within 30 s");

    /// <summary>Waits (bounded) for the back-end to announce <paramref name="name"/>; returns its address.</summary>
    internal uint WaitForAnnouncement(string name)
    {
        Assert.True(SpinWait.SpinUntil(() => Announced.ContainsKey(name), TimeSpan.FromSeconds(30)), $"the guest never saw the back-end announce '{name}'");
        return Announced[name];
    }

    internal void Send(VhostUserRequest request, ReadOnlySpan<byte> payload = default, uint flags = VhostUserHeader.Version, params int[] fds) =>
        SendRaw((uint)request, flags, (uint)payload.Length, payload, fds);

    internal void SendRaw(uint request, uint flags, uint size, ReadOnlySpan<byte> payload, params int[] fds)
    {
        var bytes = new byte[VhostUserHeader.Length + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, request);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), size);
        payload.CopyTo(bytes.AsSpan(VhostUserHeader.Length));
        int r = Native.SendFds(_socket.Value, bytes, fds);
        NativeCallException.ThrowIfError(r, "sendmsg", "test front-end");
        Assert.Equal(bytes.Length, r);
    }

    internal static byte[] U64(ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b;
    }

    internal static byte[] State(uint index, uint number)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, index);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), number);
        return b;
    }

    internal static byte[] Address(uint index, ulong desc, ulong used, ulong avail, uint flags = 0)
    {
        var b = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(b, index);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), desc);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), used);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), avail);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32), ulong.MaxValue);
        return b;
    }

    /// <summary>A ring of <paramref name="num"/> entries at <paramref name="desc"/> in the legacy layout with page alignment.</summary>
    internal static byte[] RingAt(uint index, ulong desc, int num = Num)
    {
        var layout = new VringLayout(num, 4096);
        return Address(index, desc, desc + (ulong)layout.UsedOffset, desc + (ulong)layout.AvailOffset);
    }

    internal static byte[] Table(params (ulong Guest, ulong Size, ulong User, ulong Offset)[] regions)
    {
        var b = new byte[8 + 32 * Math.Max(2, regions.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)regions.Length);
        for (int i = 0; i < regions.Length; i++)
        {
            var e = b.AsSpan(8 + 32 * i);
            BinaryPrimitives.WriteUInt64LittleEndian(e, regions[i].Guest);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], regions[i].Size);
            BinaryPrimitives.WriteUInt64LittleEndian(e[16..], regions[i].User);
            BinaryPrimitives.WriteUInt64LittleEndian(e[24..], regions[i].Offset);
        }
        return b;
    }

    /// <summary>Reads one reply and returns its u64 payload, checking the header.</summary>
    internal ulong ReadU64Reply(VhostUserRequest request)
    {
        var bytes = ReadExactly(VhostUserHeader.Length + 8);
        Assert.Equal((uint)request, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(VhostUserHeader.Version | VhostUserHeader.ReplyFlag, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(12));
    }

    /// <summary>Reads one vring-state reply (GET_VRING_BASE): queue index and number.</summary>
    internal (uint Index, uint Number) ReadStateReply(VhostUserRequest request)
    {
        // Same 8 bytes as a u64 reply: index in the low half, number in the high half (little-endian).
        ulong value = ReadU64Reply(request);
        return ((uint)value, (uint)(value >> 32));
    }

    private const uint AckFlags = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;

    /// <summary>GET_VRING_BASE of queue <paramref name="q"/>: the reply's queue index and base.</summary>
    internal (uint Index, uint Number) GetVringBase(uint q)
    {
        Send(VhostUserRequest.GetVringBase, State(q, 0));
        return ReadStateReply(VhostUserRequest.GetVringBase);
    }

    /// <summary>True when this guest's call descriptor was signalled within 200 ms (the count consumed here); false when not.</summary>
    internal bool TakeInterrupt()
    {
        using var waiter = new DescriptorWaiter("test front-end call");
        if (!waiter.WaitReady(Doorbell!.PeerOutbound, forWrite: false, Deadline.Within(TimeSpan.FromMilliseconds(200)), CancellationToken.None))
            return false;
        Span<byte> counter = stackalloc byte[8];
        Assert.Equal(8, Native.Read(Doorbell.PeerOutbound.Value, counter));
        return true;
    }

    /// <summary>Takes every interrupt signalled so far (none left readable).</summary>
    internal void DrainInterrupts()
    {
        while (TakeInterrupt())
        {
        }
    }

    /// <summary>
    /// Restarts both stopped queues with their kick descriptors only, then enables them: the call descriptors stay (the
    /// specification allows it), so no SET_VRING_CALL signals anything for the resume.
    /// </summary>
    internal void RestartWithKicksOnly()
    {
        foreach (uint q in new[] { 0u, 1u })
        {
            SendAcked(VhostUserRequest.SetVringKick, U64(q), AckFlags, Doorbell!.PeerInbound.Value);
            SendAcked(VhostUserRequest.SetVringEnable, State(q, 1), AckFlags);
        }
    }

    /// <summary>SET_VRING_ENABLE 0 on both queues (acked).</summary>
    internal void DisableRings()
    {
        foreach (uint q in new[] { 0u, 1u })
            SendAcked(VhostUserRequest.SetVringEnable, State(q, 0), AckFlags);
    }

    /// <summary>QEMU's vhost_dev_stop: both queues disabled, then GET_VRING_BASE of each (its index checked): the bases.</summary>
    internal (uint Base0, uint Base1) StopRings()
    {
        DisableRings();
        var (index0, base0) = GetVringBase(0);
        var (index1, base1) = GetVringBase(1);
        Assert.Equal((0u, 1u), (index0, index1));
        return (base0, base1);
    }

    /// <summary>QEMU's vhost_dev_start after vhost_dev_stop with the driver still running: each ring resumes at its base.</summary>
    internal void StartLikeQemu(ulong offered, uint base0, uint base1)
    {
        SendAcked(VhostUserRequest.SetFeatures, U64(offered), AckFlags);
        SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), AckFlags, Memory!.Descriptor!.Value);
        foreach (var (q, at, b) in new[] { (0u, Vring0, base0), (1u, Vring1, base1) })
        {
            SendAcked(VhostUserRequest.SetVringNum, State(q, Num), AckFlags);
            SendAcked(VhostUserRequest.SetVringBase, State(q, b), AckFlags);
            SendAcked(VhostUserRequest.SetVringAddr, RingAt(q, at), AckFlags);
            SendAcked(VhostUserRequest.SetVringKick, U64(q), AckFlags, Doorbell!.PeerInbound.Value);
        }
        foreach (uint q in new[] { 0u, 1u })
            SendAcked(VhostUserRequest.SetVringEnable, State(q, 1), AckFlags);
        foreach (uint q in new[] { 0u, 1u })
            SendAcked(VhostUserRequest.SetVringCall, U64(q), AckFlags, Doorbell!.PeerOutbound.Value);
    }

    /// <summary>The avail.idx (or used.idx) the guest memory holds for the ring at <paramref name="ring"/>.</summary>
    internal ushort ReadRingIndex(ulong ring, bool used)
    {
        var layout = new VringLayout(Num, 4096);
        ulong at = ring + (ulong)(used ? layout.UsedOffset : layout.AvailOffset) + 2;
        using var lease = Memory!.Acquire();
        return BinaryPrimitives.ReadUInt16LittleEndian(lease.GetSpan(Memory.Translate(at, 2), 2));
    }

    /// <summary>Consumes kicks still pending on the guest's kick eventfd (so a new device does not see old ones).</summary>
    internal void DrainKicks()
    {
        Span<byte> counter = stackalloc byte[8];
        Native.Read(Doorbell!.PeerInbound.Value, counter); // non-blocking eventfd: EAGAIN when nothing is pending
    }

    private byte[] ReadExactly(int count)
    {
        var bytes = new byte[count];
        int got = 0;
        var deadline = Deadline.Within(TimeSpan.FromSeconds(30));
        while (got < count)
        {
            int r = Native.Read(_socket.Value, bytes.AsSpan(got));
            if (r == -Errno.EAGAIN)
            {
                Assert.True(_waiter.WaitReady(_socket, false, deadline, CancellationToken.None), "no reply from the back-end within 30 s");
                continue;
            }
            Assert.True(r > 0, $"the back-end closed the connection (read returned {r}) while a reply was expected");
            got += r;
        }
        return bytes;
    }

    /// <summary>True when the back-end closed its end (read gives end of file) within the bound.</summary>
    internal bool ClosedByBackEnd()
    {
        var deadline = Deadline.Within(TimeSpan.FromSeconds(30));
        Span<byte> one = stackalloc byte[64];
        while (true)
        {
            int r = Native.Read(_socket.Value, one);
            if (r == 0 || r == -Errno.ECONNRESET)
                return true;
            if (r == -Errno.EAGAIN && !_waiter.WaitReady(_socket, false, deadline, CancellationToken.None))
                return false;
        }
    }

    /// <summary>Waits for the back-end's outcome (bounded).</summary>
    internal Fault? Outcome() => Bounded.Await(Result);

    /// <summary>Where guest memory starts in its file (the mmap_offset sent in SET_MEM_TABLE).</summary>
    internal ulong MmapOffset { get; private set; }

    /// <summary>
    /// Creates the guest memory (a memfd, <see cref="GuestBase"/> at file offset <paramref name="mmapOffset"/>, which
    /// need not be page-aligned: what precedes it is memory the guest does not describe) and the kick/call eventfds.
    /// </summary>
    internal void CreateGuest(ulong mmapOffset = 0)
    {
        MmapOffset = mmapOffset;
        if (mmapOffset == 0)
        {
            Memory = SharedMemoryRegion.CreateMemFd("vhost-user-guest", MemorySize, GuestBase);
        }
        else
        {
            // The whole file, seen from offset 0 (device address = file offset), and the guest's view of it from mmapOffset.
            WholeFile = SharedMemoryRegion.CreateMemFd("vhost-user-guest-file", MemorySize + (long)mmapOffset, 0);
            NativeCallException.ThrowIfError(Native.Dup(WholeFile.Descriptor!.Value, out int copy), "dup", "test guest memory");
            Memory = SharedMemoryRegion.FromDescriptor(new FileDescriptor(copy), "vhost-user-guest", GuestBase, MemorySize, fileOffset: (long)mmapOffset);
        }
        Doorbell = EventFdDoorbell.Create("vhost-user-guest");
    }

    /// <summary>With a non-zero <see cref="MmapOffset"/>: the guest memory file mapped from its start (device address = file offset).</summary>
    internal SharedMemoryRegion? WholeFile { get; private set; }

    /// <summary>
    /// virtio_uml's sequence: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_SLAVE_REQ_FD,
    /// SET_FEATURES, SET_MEM_TABLE, per queue CALL, NUM, BASE, ADDR, then per queue KICK and ENABLE;
    /// every SET with NEED_REPLY when REPLY_ACK was agreed (SET_FEATURES acks what was offered, plus
    /// <paramref name="extraFeatures"/>, minus <paramref name="droppedFeatures"/>). Returns the device features offered.
    /// </summary>
    internal ulong SetUpLikeVirtioUml(bool replyAck = true, ulong extraFeatures = 0, ulong droppedFeatures = 0)
    {
        if (Memory is null)
            CreateGuest();
        uint ack = VhostUserHeader.Version | (replyAck ? VhostUserHeader.NeedReplyFlag : 0);
        Send(VhostUserRequest.SetOwner);
        Send(VhostUserRequest.GetFeatures);
        ulong offered = ReadU64Reply(VhostUserRequest.GetFeatures);
        Send(VhostUserRequest.GetProtocolFeatures);
        ulong protocol = ReadU64Reply(VhostUserRequest.GetProtocolFeatures);
        Send(VhostUserRequest.SetProtocolFeatures, U64(protocol & (replyAck ? 0x28UL : 0x20UL)));
        int[] pipe = new int[2];
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out pipe[0], out pipe[1]), "socketpair", "slave req");
        using (var a = new FileDescriptor(pipe[0]))
        using (var b = new FileDescriptor(pipe[1]))
            SendAcked(VhostUserRequest.SetSlaveReqFd, [], ack, b.Value);
        SendAcked(VhostUserRequest.SetFeatures, U64((offered | extraFeatures) & ~droppedFeatures), ack);
        SendAcked(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, MmapOffset)), ack, Memory!.Descriptor!.Value);
        int kick = Doorbell!.PeerInbound.Value, call = Doorbell.PeerOutbound.Value;
        foreach (var (index, at) in new[] { (0u, Vring0), (1u, Vring1) })
        {
            SendAcked(VhostUserRequest.SetVringCall, U64(index), ack, call);
            SendAcked(VhostUserRequest.SetVringNum, State(index, Num), ack);
            SendAcked(VhostUserRequest.SetVringBase, State(index, 0), ack);
            SendAcked(VhostUserRequest.SetVringAddr, RingAt(index, at), ack);
        }
        foreach (uint index in new[] { 0u, 1u })
        {
            SendAcked(VhostUserRequest.SetVringKick, U64(index), ack, kick);
            SendAcked(VhostUserRequest.SetVringEnable, State(index, 1), ack);
        }
        return offered;
    }

    internal void SendAcked(VhostUserRequest request, byte[] payload, uint flags, params int[] fds)
    {
        Send(request, payload, flags, fds);
        if ((flags & VhostUserHeader.NeedReplyFlag) != 0)
            Assert.Equal(0UL, ReadU64Reply(request));
    }

    /// <summary>Starts our host-role device as the guest's driver over the guest memory (after <see cref="SetUpLikeVirtioUml"/>).</summary>
    /// <remarks>The back-end's announcements are recorded in <see cref="Announced"/> (name to address) as they arrive.</remarks>
    internal RpmsgDevice StartHost(ulong offered)
    {
        var map = new AddressMap().Add(Memory!);
        var layout = new RpmsgVdevLayout { Memory = map, Vring0Address = Vring0, Vring1Address = Vring1, BufferPoolAddress = Pool, VringNum = Num, VringAlign = 4096 };
        var control = new GuestControl((uint)(offered & 0xFFFF_FFFF & ~VhostUserFeatures.ProtocolFeatures));
        Host = RpmsgDevice.CreateHost(layout, control, Doorbell!, new RpmsgDeviceOptions { Name = "guest", SendTimeout = TimeSpan.FromSeconds(30) });
        Host.UnboundService += (name, address) => Announced[name] = address;
        Host.Start();
        return Host;
    }

    /// <summary>The guest's view of the vdev: there is none on the wire, so it is private to the guest.</summary>
    private sealed class GuestControl(uint deviceFeatures) : IVdevControl
    {
        public uint DeviceFeatures { get; } = deviceFeatures;
        public uint DriverFeatures { get; set; }
        public VirtioStatus Status { get; set; }
    }

    /// <summary>The guest goes away: its end of the socket closes (the back-end must stop and unmap).</summary>
    internal void CloseConnection() => _socket.Dispose();

    public void Dispose()
    {
        Host?.Dispose();
        _socket.Dispose();
        if (!Result.Wait(TimeSpan.FromSeconds(30)))
        {
            _stop.Cancel();
            Result.Wait(TimeSpan.FromSeconds(10));
        }
        Doorbell?.Dispose();
        Memory?.Dispose();
        WholeFile?.Dispose();
        _waiter.Dispose();
        _stop.Dispose();
    }
}
