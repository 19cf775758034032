using System.Buffers.Binary;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// Decodes request payloads into private copies, checking the size each request needs first. Only sizes and
/// encodings are judged here; whether a value makes sense for the device (index, ring size, address) is the
/// back-end's call. Every failure is a <see cref="VhostUserProtocolException"/> naming the request, field and value.
/// </summary>
internal static class VhostUserPayload
{
    /// <summary>A u64 payload (features, protocol features, vring descriptor index).</summary>
    public static ulong ReadU64(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        RequireSize(request, payload, 8);
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    /// <summary>A vring state payload (index u32, num u32).</summary>
    public static VhostUserVringState ReadVringState(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        RequireSize(request, payload, 8);
        return new(BinaryPrimitives.ReadUInt32LittleEndian(payload), BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
    }

    /// <summary>A vring address payload (index u32, flags u32, desc u64, used u64, avail u64, log u64).</summary>
    public static VhostUserVringAddress ReadVringAddress(ReadOnlySpan<byte> payload)
    {
        RequireSize(VhostUserRequest.SetVringAddr, payload, 40);
        return new(
            BinaryPrimitives.ReadUInt32LittleEndian(payload),
            BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[32..]));
    }

    /// <summary>
    /// The vring descriptor messages (KICK, CALL, ERR): a u64 with the queue index in bits 0-7 and bit 8 set
    /// when no descriptor is passed. Other bits must be zero.
    /// </summary>
    public static (uint Index, bool NoDescriptor) ReadVringDescriptor(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        ulong value = ReadU64(request, payload);
        if ((value & ~(VhostUserFeatures.VringIndexMask | VhostUserFeatures.VringNoDescriptor)) != 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringIndex, "u64", value,
                $"vhost-user {request}: value 0x{value:X} sets bits other than the queue index (0-7) and no-descriptor (8)");
        return ((uint)(value & VhostUserFeatures.VringIndexMask), (value & VhostUserFeatures.VringNoDescriptor) != 0);
    }

    /// <summary>
    /// The memory table: count u32 (1..8), padding u32, then the entries. The payload may be longer than the
    /// count needs (virtio_uml always sends room for two), never shorter, and never a partial entry. Each entry
    /// is checked for a non-zero size, no 64-bit wrap of its guest, user and file ranges, and a file offset that keeps
    /// 16-byte alignment (any other is allowed: the file is mapped from its start); overlaps are
    /// checked where the regions are mapped.
    /// </summary>
    public static VhostUserMemoryRegion[] ReadMemoryTable(ReadOnlySpan<byte> payload)
    {
        const string Request = "SET_MEM_TABLE";
        if (payload.Length < 8 || (payload.Length - 8) % VhostUserMemoryRegion.Length != 0)
            throw new VhostUserProtocolException(FaultRule.VhostUserPayloadSize, "size", (ulong)payload.Length,
                $"vhost-user {Request}: payload of {payload.Length} bytes is not 8 + a multiple of {VhostUserMemoryRegion.Length}");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (count is 0 or > VhostUserMemoryRegion.MaxRegions)
            throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, "nregions", count,
                $"vhost-user {Request}: {count} regions, expected 1 to {VhostUserMemoryRegion.MaxRegions}");
        if ((ulong)payload.Length < 8 + count * (ulong)VhostUserMemoryRegion.Length)
            throw new VhostUserProtocolException(FaultRule.VhostUserPayloadSize, "size", (ulong)payload.Length,
                $"vhost-user {Request}: payload of {payload.Length} bytes cannot hold {count} regions");
        var regions = new VhostUserMemoryRegion[count];
        for (int i = 0; i < regions.Length; i++)
        {
            var entry = payload.Slice(8 + i * VhostUserMemoryRegion.Length, VhostUserMemoryRegion.Length);
            var region = new VhostUserMemoryRegion(
                BinaryPrimitives.ReadUInt64LittleEndian(entry),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[24..]));
            if (region.Size == 0 || region.Size > long.MaxValue)
                throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].size", region.Size,
                    $"vhost-user {Request}: region {i} size 0x{region.Size:X} is zero or too large");
            if (region.GuestAddress > ulong.MaxValue - (region.Size - 1))
                throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].guest_addr", region.GuestAddress,
                    $"vhost-user {Request}: region {i} at guest address 0x{region.GuestAddress:X} + 0x{region.Size:X} wraps the 64-bit space");
            if (region.UserAddress > ulong.MaxValue - (region.Size - 1))
                throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].user_addr", region.UserAddress,
                    $"vhost-user {Request}: region {i} at user address 0x{region.UserAddress:X} + 0x{region.Size:X} wraps the 64-bit space");
            if (region.MmapOffset > (ulong)long.MaxValue - region.Size)
                throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].mmap_offset", region.MmapOffset,
                    $"vhost-user {Request}: region {i} file offset 0x{region.MmapOffset:X} + 0x{region.Size:X} is beyond the largest file offset");
            // Any offset the spec allows, as long as what is aligned in guest memory stays aligned in the mapping: ring
            // indices are accessed atomically, which faults on a misaligned address on ARM64 (16: the descriptor table's alignment).
            if (region.MmapOffset % 16 != 0)
                throw new VhostUserProtocolException(FaultRule.VhostUserMemoryTable, $"regions[{i}].mmap_offset", region.MmapOffset,
                    $"vhost-user {Request}: region {i} file offset 0x{region.MmapOffset:X} is not a multiple of 16 (ring fields would be misaligned in the mapping)");
            regions[i] = region;
        }
        return regions;
    }

    /// <summary>A request that carries no payload.</summary>
    public static void RequireEmpty(VhostUserRequest request, ReadOnlySpan<byte> payload) => RequireSize(request, payload, 0);

    private static void RequireSize(VhostUserRequest request, ReadOnlySpan<byte> payload, int expected)
    {
        if (payload.Length != expected)
            throw new VhostUserProtocolException(FaultRule.VhostUserPayloadSize, "size", (ulong)payload.Length,
                $"vhost-user {request}: payload of {payload.Length} bytes, expected {expected}");
    }
}
