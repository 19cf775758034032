using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// A vring in one region and a buffer pool in another (different device addresses), both with
/// inaccessible guard pages around them by default so a stray access crashes the test run.
/// </summary>
internal sealed class VringTestBed : IDisposable
{
    public const ulong RingAddress = 0x4000_0000;
    public const ulong BufferAddress = 0x8000_0000;
    public const int SlotSize = 512;

    public VringTestBed(int num, int align = 4096, bool guardPages = true, int slots = 64)
    {
        Layout = new VringLayout(num, align);
        RingRegion = SharedMemoryRegion.CreateAnonymous(Layout.TotalSize, RingAddress, guardPages, "test-ring");
        BufferRegion = SharedMemoryRegion.CreateAnonymous((long)slots * SlotSize, BufferAddress, guardPages, "test-buffers");
        Buffers = new AddressMap().Add(BufferRegion);
        Vring = new Vring(RingRegion.Bind(), 0, Layout);
        Slots = slots;
    }

    public VringLayout Layout { get; }

    public SharedMemoryRegion RingRegion { get; }

    public SharedMemoryRegion BufferRegion { get; }

    public AddressMap Buffers { get; }

    public Vring Vring { get; }

    public int Slots { get; }

    public static ulong SlotAddress(int slot) => BufferAddress + (ulong)slot * SlotSize;

    public VirtqueueDriver CreateDriver(bool eventIndex = false) => new("test-driver", Vring, Buffers, eventIndex);

    public VirtqueueDevice CreateDevice(bool eventIndex = false) => new("test-device", Vring, Buffers, eventIndex);

    // Raw ring access for tests that play a hostile or hand-written peer.
    public void WriteUInt16(long offset, ushort value)
    {
        using var lease = RingRegion.Acquire();
        lease.WriteUInt16(offset, value);
    }

    public void WriteUInt32(long offset, uint value)
    {
        using var lease = RingRegion.Acquire();
        lease.WriteUInt32(offset, value);
    }

    public ushort ReadUInt16(long offset)
    {
        using var lease = RingRegion.Acquire();
        return lease.ReadUInt16(offset);
    }

    public void WriteDescriptor(int index, ulong address, uint length, ushort flags, ushort next)
    {
        using var lease = RingRegion.Acquire();
        long at = 16L * index;
        lease.WriteUInt64(at, address);
        lease.WriteUInt32(at + 8, length);
        lease.WriteUInt16(at + 12, flags);
        lease.WriteUInt16(at + 14, next);
    }

    /// <summary>Puts <paramref name="head"/> in avail.ring[slot] and sets avail.idx.</summary>
    public void MakeAvailable(int slot, ushort head, ushort availIdx)
    {
        WriteUInt16(Layout.AvailOffset + 4 + 2L * slot, head);
        WriteUInt16(Layout.AvailOffset + 2, availIdx);
    }

    /// <summary>Writes used.ring[slot] = (id, len) and sets used.idx.</summary>
    public void MakeUsed(int slot, uint id, uint length, ushort usedIdx)
    {
        WriteUInt32(Layout.UsedOffset + 4 + 8L * slot, id);
        WriteUInt32(Layout.UsedOffset + 8 + 8L * slot, length);
        WriteUInt16(Layout.UsedOffset + 2, usedIdx);
    }

    public void Dispose()
    {
        RingRegion.Dispose();
        BufferRegion.Dispose();
    }
}
