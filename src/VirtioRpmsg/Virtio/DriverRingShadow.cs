using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// What the driver last wrote to each descriptor and avail.ring slot, so it can skip a store that would write the
/// value already there. Buffers re-posted in the order they came back land in the same descriptors (the free list
/// is FIFO) and, one lap later, the same avail slots: skipping keeps those lines shared in both caches, so the
/// device's reads of them hit, and the driver pays no ownership transfer for them.
/// </summary>
/// <remarks>
/// The private record decides whether to look at all: only an entry it says already holds the value is read back
/// and compared (the value read is never used), and written when it differs (a peer scribbled on it). An entry it
/// says differs is written without being read: reading a line the device took over first would add a miss before
/// the store (measured: a read-back before every avail store cost streaming about a fifth). On Device memory every
/// entry is written (a read costs more there). Single owner, as <see cref="VirtqueueDriver"/>.
/// </remarks>
internal sealed class DriverRingShadow
{
    private readonly ulong[] _address;
    private readonly ulong[] _word;
    private readonly bool[] _known;
    private readonly int[] _avail;

    internal DriverRingShadow(int num)
    {
        _address = new ulong[num];
        _word = new ulong[num];
        _known = new bool[num];
        _avail = new int[num];
        Forget();
    }

    /// <summary>Descriptors and avail entries whose store was skipped since creation (diagnostics, tests).</summary>
    internal long Skipped { get; private set; }

    /// <summary>The ring was zeroed: nothing is known to be there.</summary>
    internal void Forget()
    {
        Array.Clear(_known);
        Array.Fill(_avail, -1);
    }

    /// <summary>Writes descriptor <paramref name="index"/> unless it holds exactly these fields (recorded, and confirmed by a read).</summary>
    internal void WriteDescriptor(Vring vring, in MappingLease lease, int index, ulong address, uint length, ushort flags, ushort next)
    {
        ulong word = length | ((ulong)flags << 32) | ((ulong)next << 48);
        if (_known[index] && _address[index] == address && _word[index] == word && !lease.IsDeviceMemory)
        {
            vring.ReadDescriptor(lease, index, out ulong heldAddress, out ulong heldWord);
            if (heldAddress == address && heldWord == word)
            {
                Skipped++;
                return;
            }
        }
        vring.WriteDescriptor(lease, index, address, length, flags, next);
        _address[index] = address;
        _word[index] = word;
        _known[index] = true;
    }

    /// <summary>avail.ring[<paramref name="slot"/>] = <paramref name="head"/>, unless it holds it (recorded, and confirmed by a read).</summary>
    internal void WriteAvailEntry(Vring vring, in MappingLease lease, int slot, ushort head)
    {
        if (_avail[slot] == head && !lease.IsDeviceMemory && vring.ReadAvailEntry(lease, slot) == head)
        {
            Skipped++;
            return;
        }
        vring.WriteAvailEntry(lease, slot, head);
        _avail[slot] = head;
    }
}
