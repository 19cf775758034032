using System.Runtime.CompilerServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// A <see cref="VringLayout"/> placed at an offset in a shared-memory region and bound to the region's
/// mapping generation. It holds no protocol state; <see cref="VirtqueueDriver"/> and
/// <see cref="VirtqueueDevice"/> keep theirs privately and reach the ring only through leases taken here,
/// so a ring used after an unmap/remap fails with <see cref="StaleMappingException"/> or
/// <see cref="RegionClosedException"/> instead of touching memory.
/// </summary>
/// <remarks>
/// This type is also the one place that spells out the memory ordering of the protocol
/// (see docs/memory-ordering.md): index publications are store-release, index reads are load-acquire,
/// and a full fence (<see cref="NotificationControl"/>) separates "publish my index" from "read the other side's
/// event/flags"; each at the strength of the region's <see cref="BarrierDomain"/>.
/// </remarks>
public sealed class Vring
{
    /// <summary>The descriptor table's own alignment: a ring's address is aligned to this or its layout's align, whichever is larger.</summary>
    internal const int DescriptorTableAlignment = 16;

    // Absolute offsets inside the region, computed once.
    private readonly long _availFlags;
    private readonly long _availIdx;
    private readonly long _availRing;
    private readonly long _usedEvent;
    private readonly long _usedFlags;
    private readonly long _usedIdx;
    private readonly long _usedRing;
    private readonly long _availEvent;
    // BarrierDomain.System: Linux's weak_barriers = false strength around every publish / consume / notify check.
    private readonly bool _systemBarriers;

    /// <summary>Places <paramref name="layout"/> at <paramref name="offset"/> in <paramref name="region"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The ring does not fit in the region, or is misaligned.</exception>
    public Vring(RegionHandle region, long offset, VringLayout layout)
    {
        if (region.Region is null)
            throw new ArgumentException("The region handle is default (no region).", nameof(region));
        if (layout.Num == 0)
            throw new ArgumentException("The layout is default (num 0); construct it with new VringLayout(num, align).", nameof(layout));
        var r = region.Region;
        // The peer computes the used ring address from the absolute address, so the ring's device
        // address must be aligned to `align`; 16 is the descriptor table's own alignment, and at least 4
        // keeps the used ring's 32-bit fields naturally aligned (uncached device memory faults otherwise).
        if (layout.Align < 4)
            throw new ArgumentOutOfRangeException(nameof(layout), layout.Align, $"Region '{r.Name}': vring align {layout.Align} is below 4; the used ring's 32-bit fields would be misaligned.");
        long alignment = Math.Max(layout.Align, DescriptorTableAlignment);
        if (offset < 0 || offset > r.Size || layout.TotalSize > r.Size - offset)
            throw new AddressRangeException(nameof(offset), $"Region '{r.Name}' of 0x{r.Size:X} bytes", unchecked((ulong)offset), (ulong)layout.TotalSize, "cannot hold the vring");
        ulong deviceAddress = r.DeviceAddress + (ulong)offset;
        if (offset % alignment != 0 || deviceAddress % (ulong)alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"Region '{r.Name}': vring at offset 0x{offset:X} (device address 0x{deviceAddress:X}) is not aligned to {alignment} bytes.");
        // The accesses are made at the host address, which is aligned like the device address only when the mapping's
        // first byte is (a devMem physical address, UIO or vhost-user mmap offset whose low bits differ from the device
        // address's). Device memory (and the checker) needs every access naturally aligned: the descriptors' 64-bit words,
        // the used ring's 32-bit fields, the indexes. Normal memory allows plain unaligned accesses; only the ordered
        // 16-bit index accesses (ldarh/stlrh on ARM64) need alignment, and every index and event field is at an even
        // offset from the ring's start: 2 bytes there (docs/arm64-memory-model.md).
        ulong hostAlignment = r.UsesDeviceAccess ? DescriptorTableAlignment : (ulong)sizeof(ushort);
        ulong hostSkew = (r.MappingInPageOffset + (ulong)offset) % hostAlignment;
        if (hostSkew != 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"Region '{r.Name}': vring at offset 0x{offset:X} (device address 0x{deviceAddress:X}) is 0x{hostSkew:X} bytes past a {hostAlignment}-byte boundary in the host mapping, "
                + $"which starts 0x{r.MappingInPageOffset:X} bytes into its page: the region's physical address (or file offset) and its device address must agree modulo {hostAlignment}"
                + (r.UsesDeviceAccess ? " (Device memory: every access naturally aligned)." : " (the ordered 16-bit index accesses)."));

        Region = region;
        Offset = offset;
        Layout = layout;
        DeviceAddress = deviceAddress;
        _availFlags = offset + layout.AvailOffset;
        _availIdx = _availFlags + 2;
        _availRing = _availFlags + 4;
        _usedEvent = offset + layout.UsedEventOffset;
        _usedFlags = offset + layout.UsedOffset;
        _usedIdx = _usedFlags + 2;
        _usedRing = _usedFlags + 4;
        _availEvent = offset + layout.AvailEventOffset;
        _systemBarriers = r.Barriers == BarrierDomain.System;
        DriverControl = new NotificationControl(_usedEvent, _availFlags, VringFlags.AvailNoInterrupt, _usedIdx, _systemBarriers);
        DeviceControl = new NotificationControl(_availEvent, _usedFlags, VringFlags.UsedNoNotify, _availIdx, _systemBarriers);
    }

    /// <summary>
    /// Places <paramref name="layout"/> at <paramref name="deviceAddress"/>, which must lie with the whole
    /// ring inside one region of <paramref name="memory"/> (the ring is bound to that region's generation in the map).
    /// </summary>
    /// <exception cref="AddressRangeException">The ring is not wholly inside one region of the map.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The ring is misaligned.</exception>
    public static Vring Place(AddressMap memory, ulong deviceAddress, VringLayout layout)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var (region, offset) = memory.Translate(deviceAddress, (ulong)layout.TotalSize);
        return new Vring(region, offset, layout);
    }

    /// <summary>The region and generation the ring lives in.</summary>
    public RegionHandle Region { get; }

    /// <summary>Offset of the descriptor table in the region.</summary>
    public long Offset { get; }

    /// <summary>The ring's layout.</summary>
    public VringLayout Layout { get; }

    /// <summary>Number of entries.</summary>
    public int Num => Layout.Num;

    /// <summary>Device address of the descriptor table (what goes into a resource table's vring <c>da</c>).</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Takes a lease on the ring's region at the bound generation.</summary>
    internal MappingLease Acquire() => Region.Acquire();

    /// <summary>As <see cref="Acquire"/>, but false instead of an exception when the mapping is gone (for hints).</summary>
    internal bool TryAcquire(out MappingLease lease) => Region.TryAcquire(out lease);

    // ---- ordered accesses: the publish / consume points ----------------------------------------

    /// <summary>Device reads avail.idx (acquire: then the ring entries and descriptors the driver wrote before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort ReadAvailIndex(in MappingLease lease)
    {
        ushort idx = lease.ReadUInt16Acquire(_availIdx);
        SharedMemoryBarriers.AfterConsume(_systemBarriers);
        return idx;
    }

    /// <summary>Driver publishes avail.idx (release: descriptors and avail.ring entries become visible first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PublishAvailIndex(in MappingLease lease, ushort value)
    {
        SharedMemoryBarriers.BeforePublish(_systemBarriers);
        lease.WriteUInt16Release(_availIdx, value);
    }

    /// <summary>Driver reads used.idx (acquire: then the used elements the device wrote before it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort ReadUsedIndex(in MappingLease lease)
    {
        ushort idx = lease.ReadUInt16Acquire(_usedIdx);
        SharedMemoryBarriers.AfterConsume(_systemBarriers);
        return idx;
    }

    /// <summary>Device publishes used.idx (release: the used elements and buffer contents become visible first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PublishUsedIndex(in MappingLease lease, ushort value)
    {
        SharedMemoryBarriers.BeforePublish(_systemBarriers);
        lease.WriteUInt16Release(_usedIdx, value);
    }

    /// <summary>True when this ring uses <see cref="BarrierDomain.System"/> barriers (from its region).</summary>
    internal bool SystemBarriers => _systemBarriers;

    // ---- suppression hints ---------------------------------------------------------------------

    /// <summary>The driver's hints (used_event, avail.flags NO_INTERRUPT) and the index it re-checks (used.idx).</summary>
    internal NotificationControl DriverControl { get; }

    /// <summary>The device's hints (avail_event, used.flags NO_NOTIFY) and the index it re-checks (avail.idx).</summary>
    internal NotificationControl DeviceControl { get; }

    // ---- plain accesses to entries (ordered by the points above) -------------------------------

    /// <summary>avail.ring[slot]; <paramref name="slot"/> is already reduced modulo num.</summary>
    internal ushort ReadAvailEntry(in MappingLease lease, int slot) => lease.ReadUInt16(_availRing + 2L * slot);

    internal void WriteAvailEntry(in MappingLease lease, int slot, ushort head) => lease.WriteUInt16(_availRing + 2L * slot, head);

    /// <summary>
    /// Reads used.ring[slot] once: low word id, high word len. used.ring[i] sits at 4 mod 8 (used.flags and
    /// used.idx come first), so on Device memory, where a misaligned access faults, it is two 32-bit loads; on
    /// Normal memory one 64-bit load. Not tearing-sensitive: the device writes id and len before it publishes
    /// used.idx (release), and the driver reads them only after load-acquiring that index.
    /// </summary>
    internal ulong ReadUsedElement(in MappingLease lease, int slot)
    {
        long at = _usedRing + (long)VringLayout.UsedElementSize * slot;
        if (lease.IsDeviceMemory)
            return lease.ReadUInt32(at) | ((ulong)lease.ReadUInt32(at + 4) << 32);
        return lease.ReadUInt64(at);
    }

    /// <summary>Writes used.ring[slot] (id, len): two 32-bit stores on Device memory (see <see cref="ReadUsedElement"/>).</summary>
    internal void WriteUsedElement(in MappingLease lease, int slot, uint id, uint length)
    {
        long at = _usedRing + (long)VringLayout.UsedElementSize * slot;
        if (lease.IsDeviceMemory)
        {
            lease.WriteUInt32(at, id);
            lease.WriteUInt32(at + 4, length);
            return;
        }
        lease.WriteUInt64(at, id | ((ulong)length << 32));
    }

    /// <summary>Copies descriptor <paramref name="index"/> once: addr, then len | flags &lt;&lt; 32 | next &lt;&lt; 48.</summary>
    internal void ReadDescriptor(in MappingLease lease, int index, out ulong address, out ulong lengthFlagsNext)
    {
        long at = Offset + (long)VringLayout.DescriptorSize * index;
        address = lease.ReadUInt64(at);
        lengthFlagsNext = lease.ReadUInt64(at + 8);
    }

    internal void WriteDescriptor(in MappingLease lease, int index, ulong address, uint length, ushort flags, ushort next)
    {
        long at = Offset + (long)VringLayout.DescriptorSize * index;
        lease.WriteUInt64(at, address);
        lease.WriteUInt64(at + 8, length | ((ulong)flags << 32) | ((ulong)next << 48));
    }

    /// <summary>
    /// The driver's lines for its next take and publication, prefetched: used.idx and the used element at
    /// <paramref name="usedSlot"/> and avail_event to read, avail.idx and the avail entry at <paramref name="availSlot"/>
    /// to write. Slots are masked by the caller; nothing is read or written.
    /// </summary>
    internal void PrefetchDriverLines(in MappingLease lease, int usedSlot, int availSlot) =>
        PrefetchLines(lease, _usedIdx, _usedRing + 8L * usedSlot, 8, _availEvent, _availIdx, _availRing + 2L * availSlot, 2);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="lease"/> is on this ring's region at its generation.</summary>
    internal void CheckCovered(in MappingLease lease)
    {
        if (!lease.Covers(Region))
            ThrowNotCovered();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowNotCovered() =>
        throw new ArgumentException($"the lease is not on region '{Region.Name}' at generation {Region.Generation}, where this vring lies", "lease");

    /// <summary>
    /// The device's lines for its next take and publication, prefetched: avail.idx and the avail entry at
    /// <paramref name="availSlot"/> and used_event to read, used.idx and the used element at <paramref name="usedSlot"/>
    /// to write. Slots are masked by the caller; nothing is read or written.
    /// </summary>
    internal void PrefetchDeviceLines(in MappingLease lease, int availSlot, int usedSlot) =>
        PrefetchLines(lease, _availIdx, _availRing + 2L * availSlot, 2, _usedEvent, _usedIdx, _usedRing + 8L * usedSlot, 8);

    // The peer's index, its next entry and its event field to read; this side's index and next entry to write.
    private static void PrefetchLines(in MappingLease lease, long peerIndex, long peerEntry, int peerEntrySize, long peerEvent,
        long ownIndex, long ownEntry, int ownEntrySize)
    {
        lease.PrefetchForRead(peerIndex, 2);
        lease.PrefetchForRead(peerEntry, peerEntrySize);
        lease.PrefetchForRead(peerEvent, 2);
        lease.PrefetchForWrite(ownIndex, 2);
        lease.PrefetchForWrite(ownEntry, ownEntrySize);
    }

    /// <summary>Zeroes the whole ring.</summary>
    internal void Clear(in MappingLease lease) => Clear(lease, 0, Layout.TotalSize);

    /// <summary>Zeroes the used ring and <c>avail_event</c> (the part the device writes).</summary>
    internal void ClearUsed(in MappingLease lease) => Clear(lease, Layout.UsedOffset, Layout.TotalSize - Layout.UsedOffset);

    // Through the lease: aligned stores on Device memory (no dc zva), a span clear on Normal memory.
    private void Clear(in MappingLease lease, long from, long length) => lease.Clear(Offset + from, length);

    /// <summary>Layout, device address and region, for logs.</summary>
    public override string ToString() => $"{Layout} at 0x{DeviceAddress:X} in '{Region.Region.Name}'";
}
