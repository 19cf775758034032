using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>Mapping, accessors and address translation on the real native shim.</summary>
public static class MemoryChecks
{
    private const ulong DeviceBase = 0x3000_0000;
    private const long Size = 64 * 1024;

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Memory: a memfd region is written and read back through a lease", MemFdRoundTrip);
        yield return new("Memory: multi-byte accessors are little-endian", LittleEndian);
        yield return new("Memory: ordered accessors round-trip and reject misaligned offsets", OrderedAccessors);
        yield return new("Memory: an access outside the region throws AddressRangeException", OutOfRange);
        yield return new("Memory: two mappings of one /dev/shm file see the same bytes", SharedFileTwoMappings);
        yield return new("Memory: device addresses translate to offsets and back, never wrapping", Translation);
        yield return new("Memory: an address map finds the region and rejects overlaps and straddles", AddressMapLookup);
    }

    private static byte Pattern(int i) => (byte)(i * 31 + 7);

    private static void MemFdRoundTrip()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-smoke", Size, DeviceBase, guardPages: true);
        using (var lease = region.Acquire())
        {
            var span = lease.GetSpan(0, (int)Size);
            for (int i = 0; i < span.Length; i++)
                span[i] = Pattern(i);
        }
        using (var lease = region.Acquire())
        {
            var read = lease.GetReadOnlySpan(0, (int)Size);
            for (int i = 0; i < read.Length; i++)
                Expect.Equal(Pattern(i), read[i], $"byte {i}");
        }
    }

    private static void LittleEndian()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        using var lease = region.Acquire();
        lease.WriteUInt64(8, 0x0102_0304_0506_0708);
        Expect.Equal((byte)0x08, lease.ReadByte(8), "lowest address byte of a u64");
        Expect.Equal((ushort)0x0506, lease.ReadUInt16(10), "u16 inside a u64");
        lease.WriteUInt32(100, 0xA1B2C3D4); // unaligned on purpose: plain accessors allow it
        Expect.Equal(0xA1B2C3D4u, lease.ReadUInt32(100), "unaligned u32");
    }

    private static void OrderedAccessors()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        using var lease = region.Acquire();
        lease.WriteUInt16Release(2, 0xBEEF);
        Expect.Equal((ushort)0xBEEF, lease.ReadUInt16Acquire(2), "u16 acquire");
        lease.WriteUInt32Release(4, 0xCAFE_F00D);
        Expect.Equal(0xCAFE_F00Du, lease.ReadUInt32Acquire(4), "u32 acquire");
        lease.WriteByteRelease(9, 0x5A);
        Expect.Equal((byte)0x5A, lease.ReadByteAcquire(9), "byte acquire");
        // A torn index would be a protocol error, so the ordered accessors insist on alignment.
        // (A lease is a ref struct and cannot be captured: each throwing access takes its own.)
        Expect.Throws<ArgumentException>(() => Access(region, (in MappingLease l) => l.ReadUInt32Acquire(2)), "u32 acquire at offset 2");
        Expect.Throws<ArgumentException>(() => Access(region, (in MappingLease l) => l.WriteUInt16Release(1, 1)), "u16 release at offset 1");
    }

    private static void OutOfRange()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, guardPages: true);
        Expect.Throws<AddressRangeException>(() => Access(region, (in MappingLease l) => l.ReadUInt32(4094)), "u32 at 4094 of 4096");
        Expect.Throws<AddressRangeException>(() => Access(region, (in MappingLease l) => l.GetSpan(-1, 1)), "span at -1");
        Expect.Throws<AddressRangeException>(() => Access(region, (in MappingLease l) => l.GetSpan(1, int.MaxValue)), "span of int.MaxValue");
    }

    private delegate void LeaseAction(in MappingLease lease);

    private static void Access(SharedMemoryRegion region, LeaseAction action)
    {
        using var lease = region.Acquire();
        action(in lease);
    }

    private static void SharedFileTwoMappings()
    {
        string path = $"/dev/shm/vrpmsg-test-smoke-{Environment.ProcessId}";
        try
        {
            using var a = SharedMemoryRegion.CreateFile(path, 8192);
            using var b = SharedMemoryRegion.OpenFile(path);
            Expect.Equal(8192L, b.Size, "size of the second mapping");
            using (var lease = a.Acquire())
                lease.WriteUInt32Release(4096, 0x1234_5678);
            using (var lease = b.Acquire())
                Expect.Equal(0x1234_5678u, lease.ReadUInt32Acquire(4096), "value written through the other mapping");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void Translation()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(Size, DeviceBase);
        Expect.Equal(0x100L, region.Translate(DeviceBase + 0x100, 16), "offset of base+0x100");
        Expect.True(region.TryTranslate(DeviceBase + (ulong)Size - 16, 16, out long last) && last == Size - 16, "last 16 bytes translate");
        Expect.True(!region.TryTranslate(DeviceBase + (ulong)Size - 8, 16, out _), "range crossing the end does not translate");
        Expect.True(!region.TryTranslate(DeviceBase - 1, 2, out _), "range starting below the base does not translate");
        Expect.True(!region.TryTranslate(ulong.MaxValue - 3, 8, out _), "range wrapping 2^64 does not translate");
        Expect.Equal(DeviceBase + 0x20, region.ToDeviceAddress(0x20, 4), "device address of offset 0x20");
        Expect.Throws<AddressRangeException>(() => region.ToDeviceAddress(Size - 2, 4), "device address past the end");
    }

    private static void AddressMapLookup()
    {
        using var vrings = SharedMemoryRegion.CreateAnonymous(0x1_0000, 0x1000_0000, name: "vrings");
        using var buffers = SharedMemoryRegion.CreateAnonymous(0x4_0000, 0x2000_0000, name: "buffers");
        using var overlapping = SharedMemoryRegion.CreateAnonymous(0x1000, 0x1000_F000, name: "overlapping");
        var map = new AddressMap().Add(buffers).Add(vrings);
        Expect.Equal("vrings", map.Regions[0].Name, "regions sorted by device address");
        var (region, offset) = map.Translate(0x2000_0040, 0x200);
        Expect.True(region.Refers(buffers) && region.IsCurrent && offset == 0x40, $"0x2000_0040 -> {region.Name}+0x{offset:X}");
        Expect.True(!map.TryTranslate(0x1000_FFF0, 0x20, out _, out _), "a range past the end of 'vrings' does not translate");
        Expect.Throws<AddressRangeException>(() => map.Add(overlapping), "adding an overlapping region");
    }
}
