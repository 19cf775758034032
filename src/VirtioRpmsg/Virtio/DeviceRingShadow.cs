using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// What the device last wrote to each used.ring slot, so it can skip a store that would write the element already
/// there: the device-side counterpart of <see cref="DriverRingShadow"/>. A driver that re-posts its receive buffers in
/// the order they came back (every rpmsg host does) gets each one taken from the same avail slot every lap, so the
/// device returns it in the same used slot with the same length. Skipping keeps that line shared in both caches: the
/// device pays no ownership transfer to write it and the driver's read of it hits, one far-core miss fewer in the
/// chain (used index, element, buffer) a receive waits on.
/// </summary>
/// <remarks>
/// Only an element the record says already holds the value is read back and compared (the value read is never used),
/// and written when it differs (the driver reset the ring or scribbled on it). On Device memory every element is
/// written. Single owner, as <see cref="VirtqueueDevice"/>.
/// </remarks>
internal sealed class DeviceRingShadow
{
    // No element the device writes has this value (its id is below num, at most 32768): "nothing known".
    private const ulong Unknown = ulong.MaxValue;

    private readonly ulong[] _element;

    internal DeviceRingShadow(int num)
    {
        _element = new ulong[num];
        Forget();
    }

    /// <summary>Elements whose store was skipped since creation (diagnostics, tests).</summary>
    internal long Skipped { get; private set; }

    /// <summary>The id last written to used.ring[<paramref name="slot"/>] (false when nothing is known there).</summary>
    internal bool TryGetId(int slot, out uint id)
    {
        id = (uint)_element[slot];
        return _element[slot] != Unknown;
    }

    /// <summary>The used ring was zeroed or handed over: nothing is known to be there.</summary>
    internal void Forget() => Array.Fill(_element, Unknown);

    /// <summary>used.ring[<paramref name="slot"/>] = (id, len), unless it holds exactly that (recorded, and confirmed by a read).</summary>
    internal void WriteUsedElement(Vring vring, in MappingLease lease, int slot, uint id, uint length)
    {
        // Same packing as Vring.ReadUsedElement: id in the low word.
        ulong element = id | ((ulong)length << 32);
        if (_element[slot] == element && !lease.IsDeviceMemory && vring.ReadUsedElement(lease, slot) == element)
        {
            Skipped++;
            return;
        }
        vring.WriteUsedElement(lease, slot, id, length);
        _element[slot] = element;
    }
}
