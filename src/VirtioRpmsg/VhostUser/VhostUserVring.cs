using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// What the front-end has told the back-end about one queue: size, base, guest addresses (checked to be one
/// contiguous split ring, the layout virtio_uml and remoteproc use), kick and call descriptors, enabled.
/// Owns its descriptors; a replaced one is closed (the device using it is stopped first by the back-end).
/// </summary>
internal sealed class VhostUserVring : IDisposable
{
    // Used-ring alignments tried when working out the layout from the three addresses.
    private const int MinAlign = 4;
    private const int MaxAlign = 1 << 16;

    internal VhostUserVring(int index) => Index = index;

    internal int Index { get; }

    /// <summary>Queue size; 0 until SET_VRING_NUM.</summary>
    internal int Num { get; private set; }

    /// <summary>Guest address of the descriptor table (the ring's start); null until SET_VRING_ADDR.</summary>
    internal ulong? Address { get; private set; }

    /// <summary>Used-ring alignment implied by the addresses.</summary>
    internal int Align { get; private set; }

    internal FileDescriptor? Kick { get; private set; }

    internal FileDescriptor? Call { get; private set; }

    internal bool Enabled { get; set; }

    /// <summary>
    /// The next avail index to process: from SET_VRING_BASE (0 for a fresh ring, where GET_VRING_BASE left it to
    /// resume one), then wherever the last device on this queue got to (recorded when it is torn down); GET_VRING_BASE
    /// reports it, and the next device on the queue starts there.
    /// </summary>
    internal uint Base { get; private set; }

    /// <summary>Started by a kick descriptor, stopped by GET_VRING_BASE until the next SET_VRING_KICK (vhost-user ring states).</summary>
    internal bool Started { get; private set; }

    /// <summary>Everything a device needs for this queue is known.</summary>
    internal bool IsReady => Num > 0 && Address is not null && Kick is not null && Call is not null && Enabled && Started;

    internal void SetNum(uint num)
    {
        if (num is 0 or > VringLayout.MaxNum || (num & (num - 1)) != 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringSize, $"vring[{Index}].num", num,
                $"vhost-user SET_VRING_NUM: queue {Index} size {num} is not a power of two between 1 and {VringLayout.MaxNum}");
        if (num != Num)
        {
            Address = null; // the layout was checked for the old size: the front-end must send the addresses again
            (InFlight, DriverLive) = ([], false); // another ring, whatever base follows: the old heads are not its own
        }
        Num = (int)num;
    }

    /// <summary>Heads the last device on this queue took and never returned (recorded with <see cref="Base"/>): the next
    /// device resuming at that base takes them over. Dropped with any other base (the ring is not resumed), with another
    /// size or ring address (another ring, whatever its base), and at base 0,
    /// which a fresh ring has too (a guest that reset its rings posts its heads anew; a device that had wrapped to exactly
    /// 0 with buffers in flight loses them to the guest rather than have two messages written into one).</summary>
    internal int[] InFlight { get; private set; } = [];

    internal void SetBase(uint value)
    {
        // A split ring's next avail index: 16 bits (the packed ring's wrap counter in bit 15 and its used half do not apply).
        if (value > ushort.MaxValue)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringSize, $"vring[{Index}].base", value,
                $"vhost-user SET_VRING_BASE: queue {Index} base {value} is not a split ring's 16-bit avail index");
        if (value != Base)
            (InFlight, DriverLive) = ([], false);
        else if (value == 0)
            InFlight = []; // base 0 is also a fresh ring (a guest reset): its posted heads are new, never the old device's
        Base = value;
    }

    /// <summary>
    /// A ring resumed at a non-zero <see cref="Base"/> (SET_VRING_BASE after GET_VRING_BASE): the guest's avail.idx may
    /// be at most a ring ahead of it and its used.idx at most a ring behind it, or the indices are not one ring's state.
    /// At base 0 the ring is a fresh one, as the front-end prepared it. One read of each index, through a lease.
    /// </summary>
    internal void CheckResumable(AddressMap memory)
    {
        if (Base == 0)
            return;
        Vring ring;
        try
        {
            ring = Vring.Place(memory, Address!.Value, new VringLayout(Num, Align));
        }
        catch (ArgumentException e)
        {
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].desc", Address!.Value,
                $"vhost-user: queue {Index} at guest 0x{Address:X} is not inside the guest memory now described: {e.Message}");
        }
        ushort avail, used;
        using (var lease = ring.Acquire())
        {
            avail = ring.ReadAvailIndex(lease);
            used = ring.ReadUsedIndex(lease);
        }
        ushort ahead = (ushort)(avail - Base), behind = (ushort)(Base - used);
        if (ahead > Num || behind > Num)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringSize, $"vring[{Index}].base", Base,
                $"vhost-user: queue {Index} cannot resume at avail index {Base}: the guest's avail.idx is {avail} and used.idx {used}, more than the ring's {Num} entries apart");
    }

    /// <summary>Records how far a torn-down device got through this queue's avail ring.</summary>
    internal void Processed(ushort nextAvail, int[] inFlight, bool driverLive) => (Base, InFlight, DriverLive) = (nextAvail, inFlight, driverLive);

    /// <summary>The last device on this queue saw the driver ready (recorded with <see cref="Base"/>): a device resuming at
    /// that base must not wait for a first kick (the driver kicked once, at its start). Dropped with any other base.</summary>
    internal bool DriverLive { get; private set; }

    /// <summary>GET_VRING_BASE: the ring stops (no device until a new kick descriptor arrives).</summary>
    internal void Stop() => Started = false;

    /// <summary>
    /// Takes the ring's addresses after translating them to guest addresses: avail must follow the descriptor
    /// table directly and used must be the avail ring's end rounded up to a power-of-two alignment (4 to 64 KiB),
    /// the descriptor table aligned to that alignment (and 16), and the whole ring inside one guest region.
    /// </summary>
    internal void SetAddress(VhostUserVringAddress address, VhostUserGuestMemory? memory)
    {
        if (memory is null)
            throw new VhostUserProtocolException(FaultRule.VhostUserRequestOrder, $"vring[{Index}].desc", address.Descriptors,
                $"vhost-user SET_VRING_ADDR: queue {Index} addresses arrived before SET_MEM_TABLE");
        if (Num == 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserRequestOrder, $"vring[{Index}].desc", address.Descriptors,
                $"vhost-user SET_VRING_ADDR: queue {Index} addresses arrived before SET_VRING_NUM");
        if (address.Flags != 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].flags", address.Flags,
                $"vhost-user SET_VRING_ADDR: queue {Index} flags 0x{address.Flags:X} ask for dirty logging, which is not supported");
        ulong descSize = (ulong)VringLayout.DescriptorSize * (ulong)Num;
        ulong desc = Translate(memory, "desc", address.Descriptors, descSize);
        ulong avail = Translate(memory, "avail", address.Avail, 6 + 2 * (ulong)Num);
        ulong used = Translate(memory, "used", address.Used, 6 + (ulong)VringLayout.UsedElementSize * (ulong)Num);
        if (avail != desc + descSize)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].avail", address.Avail,
                $"vhost-user SET_VRING_ADDR: queue {Index} avail ring at guest 0x{avail:X} does not follow the descriptor table (0x{desc:X} + 0x{descSize:X}); only contiguous rings are supported");
        int align = FindAlign(desc, avail, used);
        if (align == 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].used", address.Used,
                $"vhost-user SET_VRING_ADDR: queue {Index} used ring at guest 0x{used:X} is not the avail ring's end (0x{avail + 6 + 2 * (ulong)Num:X}) aligned to a power of two, with the ring aligned the same way");
        var layout = new VringLayout(Num, align);
        if (!memory.Map.TryTranslate(desc, (ulong)layout.TotalSize, out _, out _))
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].desc", desc,
                $"vhost-user SET_VRING_ADDR: queue {Index} ring at guest 0x{desc:X} (0x{layout.TotalSize:X} bytes) is not wholly inside one guest memory region");
        if (Address is { } old && (old != desc || Align != align))
            (InFlight, DriverLive) = ([], false); // the ring moved: heads the last device held are in another ring's buffers
        Address = desc;
        Align = align;
    }

    private ulong Translate(VhostUserGuestMemory memory, string field, ulong userAddress, ulong length)
    {
        if (!memory.TryUserToGuest(userAddress, length, out ulong guest))
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, $"vring[{Index}].{field}", userAddress,
                $"vhost-user SET_VRING_ADDR: queue {Index} {field} at 0x{userAddress:X} (0x{length:X} bytes) is not inside any guest memory region");
        return guest;
    }

    private int FindAlign(ulong desc, ulong avail, ulong used)
    {
        // The avail ring (flags, idx, ring[num], used_event) ends here; used starts at the next multiple of align.
        ulong availEnd = avail + 2 * (3 + (ulong)Num);
        for (int align = MinAlign; align <= MaxAlign; align <<= 1)
        {
            ulong mask = (ulong)align - 1;
            if (((availEnd + mask) & ~mask) == used && desc % (ulong)Math.Max(align, 16) == 0)
                return align;
        }
        return 0;
    }

    internal void SetKick(FileDescriptor fd)
    {
        var old = Kick;
        Kick = fd;
        Started = true;
        old?.Dispose();
    }

    internal void SetCall(FileDescriptor fd)
    {
        var old = Call;
        Call = fd;
        old?.Dispose();
    }

    /// <summary>Forgets everything (RESET_OWNER) and closes the descriptors.</summary>
    internal void Reset()
    {
        Num = 0;
        Address = null;
        Align = 0;
        Enabled = false;
        Base = 0;
        (InFlight, DriverLive) = ([], false);
        Started = false;
        Dispose();
    }

    public void Dispose()
    {
        Kick?.Dispose();
        Call?.Dispose();
        Kick = null;
        Call = null;
    }
}
