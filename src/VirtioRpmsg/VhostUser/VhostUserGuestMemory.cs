using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The guest's memory as the front-end described it in SET_MEM_TABLE: each region mapped from its passed
/// descriptor as a <see cref="SharedMemoryRegion"/> whose device address is the guest physical address, all
/// of them in one <see cref="AddressMap"/> (so ring and buffer addresses translate through generation-fenced
/// leases), plus the user-address ranges the vring addresses are given in. Dispose unmaps every region,
/// waiting for live leases first: guest memory goes away when the guest dies or resets.
/// </summary>
internal sealed class VhostUserGuestMemory : IDisposable
{
    private readonly VhostUserMemoryRegion[] _table;
    private readonly SharedMemoryRegion[] _regions;

    private VhostUserGuestMemory(VhostUserMemoryRegion[] table, SharedMemoryRegion[] regions, AddressMap map)
    {
        _table = table;
        _regions = regions;
        Map = map;
    }

    /// <summary>Guest physical addresses to mapped regions.</summary>
    internal AddressMap Map { get; }

    internal IReadOnlyList<SharedMemoryRegion> Regions => _regions;

    /// <summary>
    /// Maps every region of <paramref name="table"/> from the matching descriptor of <paramref name="message"/>
    /// (taking them). Overlapping guest or user ranges, unaligned file offsets, and descriptors that cannot be
    /// mapped for the range are faults; whatever was mapped is unmapped again on failure.
    /// </summary>
    internal static VhostUserGuestMemory MapTable(VhostUserMemoryRegion[] table, VhostUserMessage message, string name)
    {
        message.RequireDescriptors(table.Length);
        for (int i = 0; i < table.Length; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (Overlaps(table[i].UserAddress, table[j].UserAddress, table[i].Size, table[j].Size))
                    throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].user_addr", table[i].UserAddress,
                        $"vhost-user SET_MEM_TABLE: region {i} user range 0x{table[i].UserAddress:X}+0x{table[i].Size:X} overlaps region {j}");
            }
        }
        var regions = new List<SharedMemoryRegion>(table.Length);
        try
        {
            var map = new AddressMap();
            for (int i = 0; i < table.Length; i++)
            {
                var entry = table[i];
                var fd = message.TakeDescriptor(i);
                SharedMemoryRegion region;
                try
                {
                    region = SharedMemoryRegion.FromDescriptor(fd, $"{name} guest memory {i}", entry.GuestAddress, (long)entry.Size, fileOffset: (long)entry.MmapOffset, requireShrinkSeal: false);
                }
                catch (Exception e) when (e is ArgumentException or NativeCallException)
                {
                    // FromDescriptor closed the descriptor already.
                    throw new VhostUserProtocolException(FaultRule.VhostUserBadDescriptor, $"regions[{i}]", entry.MmapOffset,
                        $"vhost-user SET_MEM_TABLE: region {i} (guest 0x{entry.GuestAddress:X}+0x{entry.Size:X} at file offset 0x{entry.MmapOffset:X}) cannot be mapped: {e.Message}");
                }
                regions.Add(region);
                try
                {
                    map.Add(region);
                }
                catch (AddressRangeException e)
                {
                    throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].guest_addr", entry.GuestAddress,
                        $"vhost-user SET_MEM_TABLE: region {i} guest range 0x{entry.GuestAddress:X}+0x{entry.Size:X} overlaps another: {e.Message}");
                }
            }
            return new VhostUserGuestMemory(table, [.. regions], map);
        }
        catch
        {
            foreach (var region in regions)
                region.Dispose();
            throw;
        }
    }

    private static bool Overlaps(ulong a, ulong b, ulong aSize, ulong bSize) => a <= b + (bSize - 1) && b <= a + (aSize - 1);

    /// <summary>Translates a front-end (user) address range to a guest physical address; false when no one region holds it all.</summary>
    internal bool TryUserToGuest(ulong userAddress, ulong length, out ulong guestAddress)
    {
        foreach (var entry in _table)
        {
            if (entry.ContainsUser(userAddress, length))
            {
                guestAddress = entry.GuestAddress + (userAddress - entry.UserAddress);
                return true;
            }
        }
        guestAddress = 0;
        return false;
    }

    /// <summary>Unmaps every region (each unmap waits for the leases still live on it) and closes the descriptors.</summary>
    public void Dispose()
    {
        // Every region, even after one whose leases outlived the drain (its TimeoutException is thrown at the end).
        TimeoutException? first = null;
        foreach (var region in _regions)
        {
            try
            {
                region.Dispose();
            }
            catch (TimeoutException e)
            {
                first ??= e;
            }
        }
        if (first is not null)
            throw first;
    }
}
