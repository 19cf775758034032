using System.Numerics;
using CsCheck;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Address translation checked against a BigInteger model (no wrap-around possible there) over random
/// values biased towards 0, 2^32, 2^63 and 2^64 and towards the edges of each region.
/// </summary>
public class AddressTranslationPropertyTests
{
    private static readonly BigInteger TwoTo64 = BigInteger.One << 64;
    private static readonly long[] Sizes = [1, 3, 4096, 4097, 65536];

    /// <summary>Uniform 64-bit values mixed with values within 0x2000 of the usual overflow edges.</summary>
    private static readonly Gen<ulong> EdgyULong = Gen.OneOf(
        Gen.ULong,
        Near(0, 0x2000),                // also wraps to just below 2^64
        Near(1UL << 32, 0x2000),
        Near(1UL << 63, 0x2000),
        Near(ulong.MaxValue, 0x2000));

    /// <summary>Signed offsets and lengths: around 0, the region sizes, and the extremes.</summary>
    private static readonly Gen<long> EdgyLong = Gen.OneOf(
        Gen.Long,
        Gen.Long[-0x20, 0x20],
        Gen.Long[4096 - 0x20, 4096 + 0x20],
        Gen.Long[65536 - 0x20, 65536 + 0x20],
        Gen.Long[long.MaxValue - 0x20, long.MaxValue],
        Gen.Long[long.MinValue, long.MinValue + 0x20]);

    /// <summary>How to pick an address to translate: anywhere, or just around the start or end of the region.</summary>
    private static readonly Gen<(int Mode, long Delta, ulong Absolute)> Address =
        Gen.Select(Gen.Int[0, 2], Gen.Long[-0x20, 0x20], EdgyULong, (m, d, a) => (m, d, a));

    [Fact]
    public void AddressRangeTryTranslate_RandomWindowsAndRanges_MatchesModelAndNeverWraps()
    {
        Gen.Select(EdgyULong, EdgyULong, EdgyULong, EdgyULong, (b, s, a, l) => (b, s, a, l))
            .Sample((windowBase, windowSize, address, length) =>
            {
                bool ok = AddressRange.TryTranslate(windowBase, windowSize, address, length, out ulong offset);
                bool inside = Inside(windowBase, windowSize, address, length);
                Assert.Equal(inside, ok);
                Assert.Equal(inside ? address - windowBase : 0UL, offset);
            }, iter: 20_000);
    }

    [Fact]
    public void FitsInAddressSpace_RandomRanges_MatchesModel()
    {
        Gen.Select(EdgyULong, EdgyULong, (s, l) => (s, l)).Sample((start, length) =>
            Assert.Equal(length == 0 || (BigInteger)start + length <= TwoTo64, AddressRange.FitsInAddressSpace(start, length)),
            iter: 20_000);
    }

    [Fact]
    public void RegionTranslationAndLeaseBounds_RandomRegionsAndRanges_MatchModel()
    {
        Gen.Select(EdgyULong, Gen.Int[0, Sizes.Length - 1], Address, EdgyULong, EdgyLong, EdgyLong, EdgyLong,
                (b, s, a, l, o, ol, sl) => (Base: b, Size: Sizes[s], Addr: a, Length: l, Offset: o, OffsetLength: ol, SpanLength: sl))
            .Sample(c =>
            {
                bool fits = (BigInteger)c.Base + c.Size <= TwoTo64;
                if (!fits)
                {
                    var e = Assert.Throws<AddressRangeException>(() => SharedMemoryRegion.CreateAnonymous(c.Size, c.Base));
                    Assert.Equal(c.Base, e.Address);
                    return;
                }
                using var region = SharedMemoryRegion.CreateAnonymous(c.Size, c.Base);
                ulong address = Pick(c.Addr, c.Base, (ulong)c.Size);

                // Device address -> offset.
                bool inside = Inside(c.Base, (ulong)c.Size, address, c.Length);
                Assert.Equal(inside, region.TryTranslate(address, c.Length, out long offset));
                if (inside)
                {
                    Assert.Equal((long)(address - c.Base), offset);
                    Assert.Equal(offset, region.Translate(address, c.Length));
                }
                else
                {
                    var e = Assert.Throws<AddressRangeException>(() => region.Translate(address, c.Length));
                    Assert.Equal((address, c.Length), (e.Address, e.RangeLength));
                }

                // Offset -> device address.
                if (OffsetInside(c.Size, c.Offset, c.OffsetLength))
                    Assert.Equal(c.Base + (ulong)c.Offset, region.ToDeviceAddress(c.Offset, c.OffsetLength));
                else
                    Assert.Throws<AddressRangeException>(() => region.ToDeviceAddress(c.Offset, c.OffsetLength));

                // Lease accessors: in bounds works, anything else is AddressRangeException (never a stray access).
                int spanLength = (int)Math.Clamp(c.SpanLength, int.MinValue, int.MaxValue);
                using var lease = region.Acquire();
                if (OffsetInside(c.Size, c.Offset, spanLength))
                    Assert.Equal(spanLength, lease.GetSpan(c.Offset, spanLength).Length);
                else
                    Assert.Throws<AddressRangeException>(() => { using var l = region.Acquire(); l.GetSpan(c.Offset, spanLength); });
                if (OffsetInside(c.Size, c.Offset, 4))
                    lease.WriteUInt32(c.Offset, 0x01020304);
                else
                    Assert.Throws<AddressRangeException>(() => { using var l = region.Acquire(); l.ReadUInt32(c.Offset); });
            }, iter: 400);
    }

    [Fact]
    public void AddressMap_RandomRegions_RejectsOverlapAndTranslatesLikeModel()
    {
        var region = Gen.Select(EdgyULong, Gen.Int[0, Sizes.Length - 1], (b, s) => (Base: b, Size: Sizes[s]));
        Gen.Select(region, region, region, Address, EdgyULong, Gen.Int[0, 2], (r0, r1, r2, a, l, target) => (Regions: new[] { r0, r1, r2 }, Addr: a, Length: l, Target: target))
            .Sample(c =>
            {
                var map = new AddressMap();
                var created = new List<SharedMemoryRegion>();
                try
                {
                    foreach (var (b, size) in c.Regions)
                    {
                        if ((BigInteger)b + size > TwoTo64)
                            continue;
                        var r = SharedMemoryRegion.CreateAnonymous(size, b);
                        created.Add(r);
                        bool overlaps = Regions(map).Any(m => (BigInteger)b < (BigInteger)m.DeviceAddress + m.Size && (BigInteger)m.DeviceAddress < (BigInteger)b + size);
                        if (overlaps)
                            Assert.Throws<AddressRangeException>(() => map.Add(r));
                        else
                            map.Add(r);
                    }
                    Assert.True(Regions(map).Zip(Regions(map).Skip(1)).All(p => p.First.DeviceAddress < p.Second.DeviceAddress), "regions not in ascending order");
                    if (map.Regions.Count == 0)
                        return;
                    var aim = Regions(map)[c.Target % map.Regions.Count];
                    ulong address = Pick(c.Addr, aim.DeviceAddress, (ulong)aim.Size);

                    var expected = Regions(map).FirstOrDefault(m => Inside(m.DeviceAddress, (ulong)m.Size, address, c.Length));
                    bool ok = map.TryTranslate(address, c.Length, out var found, out long offset);
                    Assert.Equal(expected is not null, ok);
                    if (expected is null)
                    {
                        Assert.Throws<AddressRangeException>(() => map.Translate(address, c.Length));
                        return;
                    }
                    Assert.Same(expected, found.Region);
                    Assert.True(found.IsCurrent);
                    Assert.Equal((long)(address - expected.DeviceAddress), offset);
                    var translated = map.Translate(address, c.Length);
                    Assert.Equal((expected, offset), (translated.Region.Region, translated.Offset));
                }
                finally
                {
                    foreach (var r in created)
                        r.Dispose();
                }
            }, iter: 300);
    }

    private static Gen<ulong> Near(ulong center, ulong spread) =>
        Gen.ULong.Select(u => unchecked(center + (u % (2 * spread + 1)) - spread));

    private static ulong Pick((int Mode, long Delta, ulong Absolute) a, ulong regionBase, ulong size) => a.Mode switch
    {
        0 => a.Absolute,
        1 => unchecked(regionBase + (ulong)a.Delta),
        _ => unchecked(regionBase + size + (ulong)a.Delta),
    };

    // The model: plain integers, so a range can never wrap.
    private static bool Inside(ulong windowBase, ulong windowSize, ulong address, ulong length) =>
        address >= windowBase && (BigInteger)address + length <= (BigInteger)windowBase + windowSize;

    private static bool OffsetInside(long size, long offset, long length) =>
        offset >= 0 && length >= 0 && (BigInteger)offset + length <= size;

    private static List<SharedMemoryRegion> Regions(AddressMap map) => map.Regions.Select(h => h.Region).ToList();
}
