namespace VirtioRpmsg.Memory;

/// <summary>
/// Several regions combined into one device address space (vrings in one, buffers in another).
/// Regions may not overlap; a range must lie wholly inside one region to translate.
/// </summary>
/// <remarks>
/// The map holds <see cref="RegionHandle"/>s, each bound to the generation its region had when it was
/// added, and translation returns such a handle: every lease taken from a translation checks that
/// generation, so nothing reached through the map can touch a mapping made after an unmap/remap.
/// After a remap, <see cref="Rebind"/> gives a map bound to the new generations.
/// </remarks>
public sealed class AddressMap
{
    private RegionHandle[] _regions = [];

    /// <summary>The regions with their bound generations, in ascending device address order.</summary>
    public IReadOnlyList<RegionHandle> Regions => _regions;

    /// <summary>Adds <paramref name="region"/> bound at its current generation (<see cref="SharedMemoryRegion.Bind"/>).</summary>
    /// <exception cref="AddressRangeException">The region overlaps one already present.</exception>
    public AddressMap Add(SharedMemoryRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        return Add(region.Bind());
    }

    /// <summary>Adds a region bound at the handle's generation.</summary>
    /// <exception cref="AddressRangeException">The region overlaps one already present.</exception>
    public AddressMap Add(RegionHandle region)
    {
        var added = region.Region ?? throw new ArgumentException("The region handle is default (no region).", nameof(region));
        foreach (var h in _regions)
        {
            var r = h.Region;
            // Both ranges fit in the address space (checked at region creation), so End - 1 does not wrap.
            ulong aEnd = added.DeviceAddress + (ulong)added.Size - 1;
            ulong bEnd = r.DeviceAddress + (ulong)r.Size - 1;
            if (added.DeviceAddress <= bEnd && r.DeviceAddress <= aEnd)
                throw new AddressRangeException(nameof(region), $"Region '{added.Name}'", added.DeviceAddress, (ulong)added.Size,
                    $"overlaps region '{r.Name}' [0x{r.DeviceAddress:X}, +0x{r.Size:X})");
        }
        var next = new RegionHandle[_regions.Length + 1];
        _regions.CopyTo(next, 0);
        next[^1] = region;
        Array.Sort(next, (a, b) => a.Region.DeviceAddress.CompareTo(b.Region.DeviceAddress));
        _regions = next;
        return this;
    }

    /// <summary>True if some region has been unmapped (and maybe remapped) since it was bound here.</summary>
    public bool IsStale
    {
        get
        {
            foreach (var h in _regions)
            {
                if (h.Region.Generation != h.Generation)
                    return true;
            }
            return false;
        }
    }

    /// <summary>A new map of the same regions, each bound at its current generation (use after a remap).</summary>
    public AddressMap Rebind()
    {
        var map = new AddressMap { _regions = new RegionHandle[_regions.Length] };
        for (int i = 0; i < _regions.Length; i++)
            map._regions[i] = _regions[i].Region.Bind();
        return map;
    }

    /// <summary>Finds the region holding the whole range and the offset in it; false if none does.</summary>
    public bool TryTranslate(ulong deviceAddress, ulong length, out RegionHandle region, out long offset)
    {
        foreach (var h in _regions)
        {
            if (h.Region.TryTranslate(deviceAddress, length, out offset))
            {
                region = h;
                return true;
            }
        }
        region = default;
        offset = 0;
        return false;
    }

    /// <summary>Like <see cref="TryTranslate"/> but throws <see cref="AddressRangeException"/> naming the address.</summary>
    public (RegionHandle Region, long Offset) Translate(ulong deviceAddress, ulong length)
    {
        if (!TryTranslate(deviceAddress, length, out var region, out long offset))
            throw new AddressRangeException(nameof(deviceAddress), "Address map", deviceAddress, length, "is not wholly inside any one region");
        return (region, offset);
    }
}
