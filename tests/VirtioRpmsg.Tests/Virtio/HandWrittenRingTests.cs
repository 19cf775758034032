using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// Rings written and checked byte by byte at offsets taken from the wire format (num 4, align 4096:
/// descriptors at 0, avail ring at 64, used ring at 4096), independent of <see cref="VringLayout"/>.
/// </summary>
public class HandWrittenRingTests
{
    private const int Avail = 64;
    private const int Used = 4096;

    private static void Poke(VringTestBed bed, long offset, params byte[] bytes)
    {
        using var lease = bed.RingRegion.Acquire();
        for (int i = 0; i < bytes.Length; i++)
            lease.WriteByte(offset + i, bytes[i]);
    }

    private static byte[] Peek(VringTestBed bed, long offset, int count)
    {
        using var lease = bed.RingRegion.Acquire();
        var bytes = new byte[count];
        for (int i = 0; i < count; i++)
            bytes[i] = lease.ReadByte(offset + i);
        return bytes;
    }

    [Fact]
    public void TryTakeAvailable_HandWrittenChain_ReadsSegmentsAndPushUsedWritesWireBytes()
    {
        using var bed = new VringTestBed(4);
        var device = bed.CreateDevice();
        // Descriptor 2: addr 0x80000000 (slot 0), len 100, flags NEXT, next 0.
        Poke(bed, 2 * 16, 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0, 100, 0, 0, 0, 0x01, 0x00, 0x00, 0x00);
        // Descriptor 0: addr 0x80000200 (slot 1), len 200, flags WRITE, next 0.
        Poke(bed, 0 * 16, 0x00, 0x02, 0x00, 0x80, 0, 0, 0, 0, 200, 0, 0, 0, 0x02, 0x00, 0x00, 0x00);
        // avail: flags 0, idx 1, ring[0] = 2.
        Poke(bed, Avail, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00);

        Assert.True(device.HasAvailable);
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal(2, chain.Head);
        Assert.Equal(2, chain.SegmentCount);
        Assert.Same(bed.BufferRegion, chain[0].Region.Region);
        Assert.Equal(bed.BufferRegion.Generation, chain[0].Region.Generation);
        Assert.Equal(0, chain[0].Offset);
        Assert.Equal(100u, chain[0].Length);
        Assert.False(chain[0].DeviceWritable);
        Assert.Equal(512, chain[1].Offset);
        Assert.Equal(200u, chain[1].Length);
        Assert.True(chain[1].DeviceWritable);
        Assert.Equal(300ul, chain.TotalLength);
        Assert.Equal(200ul, chain.WritableLength);
        Assert.False(device.TryTakeAvailable(out _));

        device.PushUsed(2, 150);
        // used: flags 0, idx 1, ring[0] = { id 2, len 150 }.
        Assert.Equal(new byte[] { 0, 0, 1, 0, 2, 0, 0, 0, 150, 0, 0, 0 }, Peek(bed, Used, 12));
    }

    [Fact]
    public void TryGetUsed_HandWrittenUsedRing_ReturnsTokenAndLength()
    {
        using var bed = new VringTestBed(4);
        var driver = bed.CreateDriver();
        Assert.True(driver.TryAdd(0x8000_0000, 64, deviceWritable: true, token: 70));
        Assert.True(driver.TryAdd(0x8000_0200, 32, deviceWritable: false, token: 71));
        Assert.True(driver.KickPrepare());

        // What the driver wrote, byte by byte: descriptors 0 and 1, then the avail ring.
        Assert.Equal(new byte[] { 0, 0, 0, 0x80, 0, 0, 0, 0, 64, 0, 0, 0, 0x02, 0, 0, 0 }, Peek(bed, 0, 16));
        Assert.Equal(new byte[] { 0, 0x02, 0, 0x80, 0, 0, 0, 0, 32, 0, 0, 0, 0x00, 0, 0, 0 }, Peek(bed, 16, 16));
        Assert.Equal(new byte[] { 0, 0, 2, 0, 0, 0, 1, 0 }, Peek(bed, Avail, 8));

        // The device returns descriptor 1 first with length 32, then descriptor 0 with 10.
        Poke(bed, Used + 4, 1, 0, 0, 0, 32, 0, 0, 0);
        Poke(bed, Used + 2, 1, 0);
        Assert.True(driver.HasUsed);
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal(71, token);
        Assert.Equal(32u, length);
        Assert.False(driver.TryGetUsed(out _, out _));

        Poke(bed, Used + 12, 0, 0, 0, 0, 10, 0, 0, 0);
        Poke(bed, Used + 2, 2, 0);
        Assert.True(driver.TryGetUsed(out token, out length));
        Assert.Equal(70, token);
        Assert.Equal(10u, length);
        Assert.Equal(4, driver.FreeCount);
        Assert.False(driver.HasUsed);
    }

    [Fact]
    public void TryAddChain_ThreeSegments_LinksDescriptorsFromPrivateFreeList()
    {
        using var bed = new VringTestBed(4);
        var driver = bed.CreateDriver();
        Span<BufferSegment> chain =
        [
            new(VringTestBed.SlotAddress(0), 16, false),
            new(VringTestBed.SlotAddress(1), 32, true),
            new(VringTestBed.SlotAddress(2), 48, true),
        ];
        Assert.True(driver.TryAddChain(chain, 9));
        Assert.Equal(1, driver.FreeCount);
        Assert.False(driver.TryAddChain(chain, 10));
        driver.KickPrepare();

        var device = bed.CreateDevice();
        Assert.True(device.TryTakeAvailable(out var taken));
        Assert.Equal(3, taken.SegmentCount);
        Assert.Equal(new uint[] { 16, 32, 48 }, new[] { taken[0].Length, taken[1].Length, taken[2].Length });
        Assert.Equal(80ul, taken.WritableLength);
        device.PushUsed(taken.Head, 80);
        Assert.True(driver.TryGetUsed(out int token, out uint length));
        Assert.Equal((9, 80u), (token, length));
        Assert.Equal(4, driver.FreeCount);
    }

    [Fact]
    public void TryAdd_BufferOutsideAddressMap_ThrowsAddressRangeWithoutBreaking()
    {
        using var bed = new VringTestBed(4);
        var driver = bed.CreateDriver();
        ulong end = VringTestBed.BufferAddress + (ulong)bed.BufferRegion.Size;
        Assert.Throws<VirtioRpmsg.Memory.AddressRangeException>(() => driver.TryAdd(end - 8, 16, true, 1));
        Assert.Throws<VirtioRpmsg.Memory.AddressRangeException>(() => driver.TryAdd(ulong.MaxValue - 4, 16, true, 1));
        Assert.Throws<ArgumentException>(() => driver.TryAddChain([], 1));
        Assert.False(driver.IsBroken);
        Assert.Equal(4, driver.FreeCount);
    }

    [Fact]
    public void PushUsed_HeadNotTaken_ThrowsArgumentOutOfRange()
    {
        using var bed = new VringTestBed(4);
        var device = bed.CreateDevice();
        Assert.Throws<ArgumentOutOfRangeException>(() => device.PushUsed(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.PushUsed(4, 0));
        Assert.False(device.IsBroken);
    }
}
