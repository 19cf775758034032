using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Resolves each vdev's layout from the resource table (<see cref="PlatformResources.LoadResourceTable"/>):
/// checks every vring against the mapped memory and against everything already placed (the table,
/// every vdev's pool, every vring so far), and on the host chooses and writes back ADDR_ANY addresses.
/// One list of taken ranges spans all vdevs, so one vdev's ring can never land on another's.
/// </summary>
internal sealed class PlatformVdevResolver
{
    private readonly PlatformResources _platform;
    private readonly ResourceTable _table;
    private readonly List<(ulong Start, ulong Length, string What)> _taken = [];
    // Carveouts the firmware placed itself: a chosen address keeps clear of them (Linux's allocations never land on a
    // registered carveout), but a fixed ring is not checked against them (tables that booted before keep booting).
    private readonly List<(ulong Start, ulong Length, string What)> _fixedCarveouts = [];

    internal PlatformVdevResolver(PlatformResources platform, ResourceTable table, IReadOnlyList<(ulong Start, ulong Length)>? firmware = null)
    {
        _platform = platform;
        _table = table;
        _taken.Add((platform.ResourceTableRegion!.DeviceAddress + (ulong)platform.ResourceTableOffset, (ulong)platform.ResourceTableSize, "the resource table"));
        foreach (var v in platform.Vdevs)
            _taken.Add((v.BufferPoolAddress, v.BufferPoolSize, platform.Vdevs.Count == 1 ? "the buffer pool" : $"vdev {v.Index}'s buffer pool"));
        foreach (var c in table.Carveouts)
        {
            if (c.DeviceAddress != ResourceTable.AddrAny && c.Length != 0)
                _fixedCarveouts.Add((c.DeviceAddress, c.Length, $"carveout '{c.Name}'"));
        }
        // The firmware image just loaded (often in the table's own region): a chosen address keeps clear of it too.
        foreach (var (start, length) in firmware ?? [])
            _fixedCarveouts.Add((start, length, "the loaded firmware"));
    }

    /// <summary>Resolves every vdev: all fixed rings first, so that a chosen address never lands on one.</summary>
    internal void Resolve(IReadOnlyList<VdevEntry> entries)
    {
        var plans = new (PlatformVdev Vdev, VdevEntry Entry, ulong Bytes, ulong?[] Addresses)[_platform.Vdevs.Count];
        for (int i = 0; i < plans.Length; i++)
            plans[i] = Check(_platform.Vdevs[i], entries[i]);
        foreach (var plan in plans)
            PlaceFixed(plan.Vdev, plan.Entry, plan.Bytes, plan.Addresses);
        foreach (var plan in plans)
            PlaceAny(plan.Vdev, plan.Entry, plan.Bytes, plan.Addresses);
        foreach (var (vdev, entry, _, addresses) in plans)
        {
            vdev.Entry = entry;
            vdev.Num = (int)entry.Vrings[0].Num;
            vdev.Align = (int)entry.Vrings[0].Align;
            vdev.Vring0 = addresses[0];
            vdev.Vring1 = addresses[1];
        }
    }

    private (PlatformVdev, VdevEntry, ulong, ulong?[]) Check(PlatformVdev vdev, VdevEntry entry)
    {
        var v = vdev.Description.Vdev;
        VdevVring r0 = entry.Vrings[0], r1 = entry.Vrings[1];
        if (r1.Num != r0.Num)
            throw new ResourceTableException("vring[1].num", entry.Index, r1.Num, $"differs from vring 0's num {r0.Num}; both rpmsg vrings must have the same size");
        if (r1.Align != r0.Align)
            throw new ResourceTableException("vring[1].align", entry.Index, r1.Align, $"differs from vring 0's align {r0.Align}");
        if (r0.Align < 4)
            throw new ResourceTableException("vring[0].align", entry.Index, r0.Align, "must be at least 4");
        Agree(v.VringNum, r0.Num, vdev.PathOf("vringNum"));
        Agree(v.VringAlign, r0.Align, vdev.PathOf("vringAlign"));
        if (vdev.BufferCount / 2 > r0.Num)
            throw new PlatformDescriptionException(vdev.PathOf("bufferCount"), vdev.BufferCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"{vdev.BufferCount / 2} rx buffers do not fit in the table's vrings of {r0.Num} entries");
        return (vdev, entry, VringGeometry.Bytes(r0.Num, r0.Align), new ulong?[2]);
    }

    private void PlaceFixed(PlatformVdev vdev, VdevEntry entry, ulong bytes, ulong?[] addresses)
    {
        ulong?[] wanted = [vdev.Description.Vdev.Vring0Address, vdev.Description.Vdev.Vring1Address];
        for (int i = 0; i < 2; i++)
        {
            var ring = entry.Vrings[i];
            if (ring.NeedsAddress)
                continue;
            if (wanted[i] is { } w && w != ResourceTable.AddrAny && w != ring.DeviceAddress)
                throw new PlatformDescriptionException(vdev.PathOf($"vring{i}Address"), PlatformDescriptionValidator.Hex(w), $"the resource table says 0x{ring.DeviceAddress:X}");
            addresses[i] = CheckRing(vdev, entry, i, ring.DeviceAddress, bytes, ring.Align);
        }
    }

    private void PlaceAny(PlatformVdev vdev, VdevEntry entry, ulong bytes, ulong?[] addresses)
    {
        ulong?[] wanted = [vdev.Description.Vdev.Vring0Address, vdev.Description.Vdev.Vring1Address];
        uint align = entry.Vrings[0].Align;
        for (int i = 0; i < 2; i++)
        {
            if (addresses[i] is not null)
                continue;
            if (_platform.Role == PlatformRole.Remote)
                throw new ResourceTableException($"vring[{i}].da", entry.Index, ResourceTable.AddrAny, "is still ADDR_ANY: the host has not chosen an address yet");
            ulong chosen = wanted[i] is { } w && w != ResourceTable.AddrAny
                ? CheckRing(vdev, entry, i, w, bytes, align)
                : ChooseRingAddress(vdev, i, bytes, align);
            using (var lease = _platform.ResourceTableRegion!.Acquire())
                new ResourceTableWriter(_table).SetVringAddress(lease, _platform.ResourceTableOffset, entry, i, (uint)chosen, (uint)chosen);
            addresses[i] = chosen;
        }
    }

    private static void Agree(int? described, uint fromTable, string path)
    {
        if (described is { } d && (uint)d != fromTable)
            throw new PlatformDescriptionException(path, d.ToString(System.Globalization.CultureInfo.InvariantCulture), $"the resource table says {fromTable}");
    }

    private string RingName(PlatformVdev vdev, int index) => _platform.Vdevs.Count == 1 ? $"vring {index}" : $"vdev {vdev.Index}'s vring {index}";

    // Where a ring may start: its align, and never less than the descriptor table needs (Vring checks the same).
    private static ulong RingAlignment(uint align) => Math.Max(align, (ulong)Vring.DescriptorTableAlignment);

    /// <summary>Checks a vring address (from the table or the description) and reserves its range.</summary>
    private ulong CheckRing(PlatformVdev vdev, VdevEntry entry, int index, ulong address, ulong bytes, uint align)
    {
        string field = $"vring[{index}].da";
        ulong alignment = RingAlignment(align);
        if ((address & (alignment - 1)) != 0)
            throw new ResourceTableException(field, entry.Index, address, alignment == align
                ? $"is not aligned to the vring alignment 0x{align:X}"
                : $"is not aligned to 0x{alignment:X} (the descriptor table's alignment; the vring alignment is 0x{align:X})");
        if (!_platform.Memory.TryTranslate(address, bytes, out _, out _))
            throw new ResourceTableException(field, entry.Index, address, $"the 0x{bytes:X}-byte vring is not wholly inside any one mapped region");
        foreach (var (start, length, what) in _taken)
        {
            if (address < start + length && start < address + bytes)
                throw new ResourceTableException(field, entry.Index, address, $"the 0x{bytes:X}-byte vring overlaps {what} [0x{start:X}, +0x{length:X})");
        }
        _taken.Add((address, bytes, RingName(vdev, index)));
        return address;
    }

    /// <summary>The lowest aligned range of the vring region that overlaps nothing taken and fits a 32-bit table field.</summary>
    private ulong ChooseRingAddress(PlatformVdev vdev, int index, ulong bytes, uint align)
    {
        string? described = vdev.Description.Vdev.VringRegion;
        string regionName = described ?? _platform.Description.ResourceTable!.Region;
        ulong alignment = RingAlignment(align);
        return TryChoose(regionName, bytes, alignment, RingName(vdev, index))
            ?? throw new PlatformDescriptionException(described is null ? "resourceTable.region" : vdev.PathOf("vringRegion"), $"\"{regionName}\"",
                $"no free 0x{bytes:X}-byte range aligned to 0x{alignment:X} below 4 GiB is left in the region for {RingName(vdev, index)} (ADDR_ANY)");
    }

    /// <summary>
    /// Allocates every carveout whose da is ADDR_ANY, as Linux's rproc_alloc_carveout does, from the resource table's
    /// region as ADDR_ANY vrings are placed (page-aligned, clear of the table, pools, rings, earlier carveouts and the firmware
    /// image RemoteProcessor loaded), and
    /// writes the address back as da and pa. One that cannot be placed is refused, naming the entry: the firmware would
    /// otherwise run with a carveout nobody allocated. A remote leaves them to the host. Returns the entries as written.
    /// </summary>
    internal List<CarveoutEntry> PlaceCarveouts()
    {
        var placed = new List<CarveoutEntry>();
        if (_platform.Role == PlatformRole.Remote)
            return placed;
        string regionName = _platform.Description.ResourceTable!.Region;
        foreach (var carveout in _table.Carveouts.Where(c => c.DeviceAddress == ResourceTable.AddrAny))
        {
            string what = $"carveout '{carveout.Name}' (entry {carveout.Index})";
            if (carveout.Length == 0)
                throw new ResourceTableException("carveout.len", carveout.Index, 0, $"{what} has da ADDR_ANY and no length: there is nothing to allocate");
            ulong chosen = TryChoose(regionName, carveout.Length, CarveoutAlignment, what)
                ?? throw new ResourceTableException("carveout.da", carveout.Index, ResourceTable.AddrAny,
                    $"{what} asks the host for 0x{carveout.Length:X} bytes (ADDR_ANY), but no free range of that size aligned to 0x{CarveoutAlignment:X} below 4 GiB is left in region '{regionName}'");
            using var lease = _platform.ResourceTableRegion!.Acquire();
            placed.Add(new ResourceTableWriter(_table).SetCarveoutAddress(lease, _platform.ResourceTableOffset, carveout, (uint)chosen, (uint)chosen));
        }
        return placed;
    }

    // Linux allocates a carveout with dma_alloc_coherent: whole pages.
    private const ulong CarveoutAlignment = 0x1000;

    /// <summary>The lowest <paramref name="alignment"/>-aligned range of the region clear of everything taken and of the firmware's carveouts; reserved as <paramref name="what"/>.</summary>
    private ulong? TryChoose(string regionName, ulong bytes, ulong alignment, string what)
    {
        var region = _platform.GetRegion(regionName);
        ulong regionEnd = region.DeviceAddress + (ulong)region.Size; // fits: checked at region creation
        ulong candidate = region.DeviceAddress;
        while (TryAlignUp(candidate, alignment, out candidate) && candidate <= regionEnd && bytes <= regionEnd - candidate
            && candidate + bytes - 1 < ResourceTable.AddrAny)
        {
            var clash = _taken.Concat(_fixedCarveouts).FirstOrDefault(t => candidate < t.Start + t.Length && t.Start < candidate + bytes);
            if (clash.What is null)
            {
                _taken.Add((candidate, bytes, what));
                return candidate;
            }
            candidate = clash.Start + clash.Length;
        }
        return null;
    }

    private static bool TryAlignUp(ulong value, ulong align, out ulong aligned)
    {
        aligned = (value + (align - 1)) & ~(ulong)(align - 1);
        return aligned >= value;
    }
}
