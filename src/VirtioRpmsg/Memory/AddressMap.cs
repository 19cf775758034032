namespace VirtioRpmsg.Memory;

/// <summary>
/// Several regions combined into one device address space (vrings in one, buffers in another).
/// Regions may not overlap; a range must lie wholly inside one region to translate.
/// </summary>
public sealed class AddressMap
{
    private SharedMemoryRegion[] _regions = [];

    /// <summary>The regions, in ascending device address order.</summary>
    public IReadOnlyList<SharedMemoryRegion> Regions => _regions;

    /// <summary>Adds a region; throws <see cref="AddressRangeException"/> if it overlaps one already present.</summary>
    public AddressMap Add(SharedMemoryRegion region)
    {
        ArgumentNullException.ThrowIfNull(region);
        foreach (var r in _regions)
        {
            // Both ranges fit in the address space (checked at region creation), so End - 1 does not wrap.
            ulong aEnd = region.DeviceAddress + (ulong)region.Size - 1;
            ulong bEnd = r.DeviceAddress + (ulong)r.Size - 1;
            if (region.DeviceAddress <= bEnd && r.DeviceAddress <= aEnd)
                throw new AddressRangeException(nameof(region), $"Region '{region.Name}'", region.DeviceAddress, (ulong)region.Size,
                    $"overlaps region '{r.Name}' [0x{r.DeviceAddress:X}, +0x{r.Size:X})");
        }
        var next = new SharedMemoryRegion[_regions.Length + 1];
        _regions.CopyTo(next, 0);
        next[^1] = region;
        Array.Sort(next, (a, b) => a.DeviceAddress.CompareTo(b.DeviceAddress));
        _regions = next;
        return this;
    }

    /// <summary>Finds the region holding the whole range and the offset in it; false if none does.</summary>
    public bool TryTranslate(ulong deviceAddress, ulong length, out SharedMemoryRegion? region, out long offset)
    {
        foreach (var r in _regions)
        {
            if (r.TryTranslate(deviceAddress, length, out offset))
            {
                region = r;
                return true;
            }
        }
        region = null;
        offset = 0;
        return false;
    }

    /// <summary>Like <see cref="TryTranslate"/> but throws <see cref="AddressRangeException"/> naming the address.</summary>
    public (SharedMemoryRegion Region, long Offset) Translate(ulong deviceAddress, ulong length)
    {
        if (!TryTranslate(deviceAddress, length, out var region, out long offset))
            throw new AddressRangeException(nameof(deviceAddress), "Address map", deviceAddress, length, "is not wholly inside any one region");
        return (region!, offset);
    }
}
