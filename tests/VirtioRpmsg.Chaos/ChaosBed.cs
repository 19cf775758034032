using System.Buffers.Binary;
using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Chaos;

/// <summary>
/// A real host RpmsgDevice and a real remote RpmsgDevice (the well-behaved part of the chaos peer) over
/// one small anonymous region with inaccessible guard pages around it, plus raw access to every byte a
/// peer can write. Vring 0 carries remote-to-host messages, vring 1 host-to-remote. The remote is always
/// driven by the caller (<see cref="RpmsgDevice.Poll"/>); the host either too, or by its own dispatcher.
/// </summary>
internal sealed class ChaosBed : IDisposable
{
    internal const long VdevEntryOffset = 0x100;
    internal const ulong Vring0Address = 0x1000;
    internal const ulong Vring1Address = 0x3000;
    internal const ulong PoolAddress = 0x5000;
    internal const long RegionSize = 0x8000;
    internal const int VringNum = 16;
    internal const int BufferCount = 16;
    internal const int BufferSize = 512;
    internal const int TxBuffers = BufferCount / 2;
    internal const int MaxEndpoints = 8;
    internal const int MaxAnnouncedServices = 2 * MaxEndpoints;
    internal const uint HostDataAddress = 0x500;
    internal const uint HostDoomedAddress = 0x501;
    internal const uint RemoteDataAddress = 0x400;
    internal const uint RemoteServiceAddress = 0x401;
    internal const string EchoService = "chaos-echo";
    internal const string FloodService = "chaos-flood";
    internal const string UnboundService = "chaos-unbound";

    private readonly object _sync = new();
    private readonly List<int> _hostReceived = [];
    private readonly List<int> _remoteReceived = [];
    private volatile bool _doomedDisposed;
    private int _lateCallbacks;

    public ChaosBed(bool threadedHost, bool eventIndex, TimeSpan sendTimeout)
    {
        Layout = new VringLayout(VringNum, 0x1000);
        Region = SharedMemoryRegion.CreateAnonymous(RegionSize, deviceAddress: 0, guardPages: true, name: "chaos");
        Memory = new AddressMap().Add(Region);
        using (var lease = Region.Acquire())
            lease.WriteUInt32(VdevEntryOffset + VdevEntry.DeviceFeaturesOffset, RpmsgFeatures.NameService | (eventIndex ? VirtioFeatures.EventIndex : 0));
        var control = SharedVdevControl.ForVdevEntry(Region.Bind(), VdevEntryOffset);
        var (hostBell, remoteBell) = LoopbackDoorbell.CreatePair();
        HostBell = hostBell;
        RemoteBell = new ChaosDoorbell(remoteBell);
        var layout = new RpmsgVdevLayout
        {
            Memory = Memory,
            Vring0Address = Vring0Address,
            Vring1Address = Vring1Address,
            VringNum = VringNum,
            VringAlign = 0x1000,
            BufferPoolAddress = PoolAddress,
            BufferCount = BufferCount,
            BufferSize = BufferSize,
        };
        HostLog = new ChaosLog();
        Threaded = threadedHost;
        Remote = RpmsgDevice.CreateRemote(layout, control, RemoteBell, new RpmsgDeviceOptions
        {
            Name = "chaos-remote",
            WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            SendTimeout = sendTimeout,
        });
        Host = RpmsgDevice.CreateHost(layout, control, HostBell, new RpmsgDeviceOptions
        {
            Name = "chaos-host",
            WaitStrategy = threadedHost ? RpmsgWaitStrategy.Interrupt : RpmsgWaitStrategy.CallerPoll,
            SendTimeout = sendTimeout,
            IdleRecheckInterval = TimeSpan.FromMilliseconds(5),
            MaxEndpoints = MaxEndpoints,
            MaxAnnouncedServices = MaxAnnouncedServices,
            AllowedServices = [EchoService, FloodService, UnboundService],
            Logger = HostLog,
        });
        Host.RegisterDriver(new RpmsgServiceDriver(EchoService) { Receive = (_, _, _) => { } });
        Host.RegisterDriver(new RpmsgServiceDriver(FloodService) { Receive = (_, _, _) => { } });
        HostData = Host.CreateEndpoint(HostDataAddress, (_, _, payload) => Record(_hostReceived, payload));
        HostDoomed = Host.CreateEndpoint(HostDoomedAddress, (_, _, _) =>
        {
            if (_doomedDisposed)
                Interlocked.Increment(ref _lateCallbacks);
        });
        RemoteData = Remote.CreateEndpoint(RemoteDataAddress, (_, _, payload) => Record(_remoteReceived, payload));
        Remote.CreateNamedEndpoint(EchoService, RemoteServiceAddress, (_, _, _) => { });
        Remote.Start();
        Host.Start();
        Remote.Poll();
        WaitUntil(() => Host.Channels.Count == 1, "the echo channel");
    }

    public SharedMemoryRegion Region { get; }
    public AddressMap Memory { get; }
    public VringLayout Layout { get; }
    public RpmsgDevice Host { get; }
    public RpmsgDevice Remote { get; }
    public LoopbackDoorbell HostBell { get; }
    public ChaosDoorbell RemoteBell { get; }
    public ChaosLog HostLog { get; }
    public bool Threaded { get; }
    public RpmsgEndpoint HostData { get; }
    public RpmsgEndpoint HostDoomed { get; }
    public RpmsgEndpoint RemoteData { get; }

    /// <summary>Callbacks that ran on the doomed endpoint after its Dispose returned (must stay 0).</summary>
    public int LateCallbacks => Volatile.Read(ref _lateCallbacks);

    public int[] HostReceived()
    {
        lock (_sync)
            return [.. _hostReceived];
    }

    public int[] RemoteReceived()
    {
        lock (_sync)
            return [.. _remoteReceived];
    }

    private void Record(List<int> into, ReadOnlySpan<byte> payload)
    {
        int seq = payload.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : -1;
        lock (_sync)
            into.Add(seq);
    }

    public void DisposeDoomed()
    {
        HostDoomed.Dispose();
        _doomedDisposed = true;
    }

    // ---- driving -------------------------------------------------------------------------------

    /// <summary>Polls the remote (and the host when caller-driven) until neither has anything to do.</summary>
    public void Pump()
    {
        for (int i = 0; i < 10_000; i++)
        {
            int n = PollRemote();
            if (!Threaded)
                n += PollHost();
            if (n == 0)
                return;
        }
    }

    public int PollRemote()
    {
        if (Remote.State != RpmsgDeviceState.Running)
            return 0;
        return Remote.Poll();
    }

    public int PollHost()
    {
        if (Host.State != RpmsgDeviceState.Running)
            return 0;
        return Host.Poll();
    }

    /// <summary>Waits (polling what is caller-driven) until <paramref name="condition"/> holds; throws after 30 s.</summary>
    public void WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException($"chaos bed: timed out waiting for {what}\nhost: {Host.Dump()}\nremote: {Remote.Dump()}");
            Pump();
            spin.SpinOnce(sleep1Threshold: 10);
        }
    }

    /// <summary>Sends from the remote, pumping while no buffer is free.</summary>
    public void RemoteSend(uint destination, ReadOnlySpan<byte> payload)
    {
        var clock = Stopwatch.StartNew();
        while (!RemoteData.TrySendTo(destination, payload))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException($"chaos bed: remote found no free buffer\nhost: {Host.Dump()}\nremote: {Remote.Dump()}");
            Pump();
            Thread.Yield();
        }
    }

    /// <summary>Sends a raw payload from the remote with any source address (name-service messages, spoofs).</summary>
    public void RemoteSendRaw(uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        var clock = Stopwatch.StartNew();
        while (!RemoteData.TrySendOffChannel(source, destination, payload))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException("chaos bed: remote found no free buffer for a raw send");
            Pump();
            Thread.Yield();
        }
    }

    /// <summary>Sends from the host, pumping the remote while no buffer is free.</summary>
    public void HostSend(ReadOnlySpan<byte> payload)
    {
        var clock = Stopwatch.StartNew();
        while (!HostData.TrySendTo(RemoteDataAddress, payload))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException("chaos bed: host found no free buffer");
            Pump();
            Thread.Yield();
        }
    }

    // ---- raw shared memory: what a peer can write -------------------------------------------------

    private static long RingBase(int ring) => ring == 0 ? (long)Vring0Address : (long)Vring1Address;

    public ushort AvailIdx(int ring) => Read16(RingBase(ring) + Layout.AvailOffset + 2);

    public ushort UsedIdx(int ring) => Read16(RingBase(ring) + Layout.UsedOffset + 2);

    public ushort AvailEntry(int ring, int slot) => Read16(RingBase(ring) + Layout.AvailOffset + 4 + 2L * (slot & (VringNum - 1)));

    public void WriteAvailIdx(int ring, ushort value) => Write16(RingBase(ring) + Layout.AvailOffset + 2, value);

    public void WriteAvailEntry(int ring, int slot, ushort head) => Write16(RingBase(ring) + Layout.AvailOffset + 4 + 2L * (slot & (VringNum - 1)), head);

    public void WriteUsedIdx(int ring, ushort value) => Write16(RingBase(ring) + Layout.UsedOffset + 2, value);

    public void WriteUsedFlags(int ring, ushort value) => Write16(RingBase(ring) + Layout.UsedOffset, value);

    public void WriteAvailEvent(int ring, ushort value) => Write16(RingBase(ring) + Layout.AvailEventOffset, value);

    public (uint Id, uint Length) UsedElement(int ring, int slot)
    {
        using var lease = Region.Acquire();
        long at = RingBase(ring) + Layout.UsedOffset + 4 + 8L * (slot & (VringNum - 1));
        return (lease.ReadUInt32(at), lease.ReadUInt32(at + 4));
    }

    public void WriteUsedElement(int ring, int slot, uint id, uint length)
    {
        using var lease = Region.Acquire();
        long at = RingBase(ring) + Layout.UsedOffset + 4 + 8L * (slot & (VringNum - 1));
        lease.WriteUInt32(at, id);
        lease.WriteUInt32(at + 4, length);
    }

    public (ulong Address, uint Length, ushort Flags, ushort Next) Descriptor(int ring, int index)
    {
        using var lease = Region.Acquire();
        long at = RingBase(ring) + 16L * index;
        return (lease.ReadUInt64(at), lease.ReadUInt32(at + 8), lease.ReadUInt16(at + 12), lease.ReadUInt16(at + 14));
    }

    public void WriteDescriptor(int ring, int index, ulong address, uint length, ushort flags, ushort next)
    {
        using var lease = Region.Acquire();
        long at = RingBase(ring) + 16L * index;
        lease.WriteUInt64(at, address);
        lease.WriteUInt32(at + 8, length);
        lease.WriteUInt16(at + 12, flags);
        lease.WriteUInt16(at + 14, next);
    }

    /// <summary>
    /// The chain heads published and not yet returned, as the peer sees them: both stacks take and
    /// return in order here, so they are the avail entries from used.idx up to avail.idx.
    /// </summary>
    public List<int> InFlight(int ring)
    {
        var heads = new List<int>();
        ushort used = UsedIdx(ring);
        ushort avail = AvailIdx(ring);
        for (ushort k = used; k != avail && heads.Count <= VringNum; k++)
            heads.Add(AvailEntry(ring, k));
        return heads;
    }

    /// <summary>Region offset of the buffer of the last message the remote published on vring 0.</summary>
    public long LastRemoteMessageOffset()
    {
        var (id, _) = UsedElement(0, UsedIdx(0) - 1);
        var (address, length, _, _) = Descriptor(0, (int)id);
        return Memory.Translate(address, length).Offset;
    }

    public VirtioStatus Status
    {
        get
        {
            using var lease = Region.Acquire();
            return (VirtioStatus)lease.ReadByte(VdevEntryOffset + VdevEntry.StatusOffset);
        }
        set
        {
            using var lease = Region.Acquire();
            lease.WriteByte(VdevEntryOffset + VdevEntry.StatusOffset, (byte)value);
        }
    }

    public ushort Read16(long offset)
    {
        using var lease = Region.Acquire();
        return lease.ReadUInt16(offset);
    }

    public void Write16(long offset, ushort value)
    {
        using var lease = Region.Acquire();
        lease.WriteUInt16(offset, value);
    }

    public void Write32(long offset, uint value)
    {
        using var lease = Region.Acquire();
        lease.WriteUInt32(offset, value);
    }

    public void WriteBytes(long offset, ReadOnlySpan<byte> bytes)
    {
        using var lease = Region.Acquire();
        bytes.CopyTo(lease.GetSpan(offset, bytes.Length));
    }

    public void Dispose()
    {
        Host.Dispose();
        Remote.Dispose();
        HostBell.Dispose();
        RemoteBell.Dispose();
        Region.Dispose();
    }
}
