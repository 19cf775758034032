using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The driver skips rewriting a descriptor or avail slot that already holds what it would write
/// (<c>DriverRingShadow</c>: its record says so and a read-back confirms it); whatever the ring held before, the device
/// must see exactly what was posted: a stale entry from an earlier lap with any one field different, or one the peer
/// scribbled on after the driver wrote it (the record still says "same"), is rewritten.
/// The free list is FIFO: descriptors are handed out in the order they were freed.
/// </summary>
public class DriverRingRewriteTests
{
    private const int Num = 4;

    // Posts one buffer, lets the device take and return it, and reclaims it; returns the head the device saw.
    private static int RoundTrip(VirtqueueDriver driver, VirtqueueDevice device, int slot, uint length, bool writable, int token)
    {
        Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(slot), length, writable, token, out _));
        Assert.True(device.TryTakeAvailable(out var chain));
        Assert.Equal((1, VringTestBed.SlotAddress(slot), length, writable), (chain.SegmentCount, chain[0].DeviceAddress, chain[0].Length, chain[0].DeviceWritable));
        int head = chain.Head;
        device.PushUsed(head, writable ? 8u : length);
        Assert.True(driver.TryGetUsed(out int back, out _));
        Assert.Equal(token, back);
        return head;
    }

    [Fact]
    public void ReusedDescriptor_AnyFieldDifferent_IsRewritten()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        // One buffer at a time: the FIFO free list hands out descriptors 0..Num-1 in turn, so each lap's post meets
        // the descriptor of the previous lap's; each lap below differs from the one before in one field.
        (int Slot, uint Length, bool Writable)[] laps = [(1, 64, true), (1, 64, true), (2, 64, true), (2, 32, true), (2, 32, false)];
        int token = 0;
        foreach (var (slot, length, writable) in laps)
        {
            for (int d = 0; d < Num; d++)
                Assert.Equal(d, RoundTrip(driver, device, slot, length, writable, token++));
        }
        Assert.Equal(Num, driver.FreeCount);
        // Skipped: the identical lap's descriptors, and every slot after the first lap (slot s always gets head s).
        Assert.Equal(Num + (laps.Length - 1) * Num, driver.RingWritesSkipped);
    }

    [Fact]
    public void ScribbledFreeDescriptorAndAvailSlot_AreRewrittenBeforeTheDeviceSeesThem()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        // Lap 1 fills every descriptor and slot; all come back.
        for (int lap = 0; lap < Num; lap++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(lap), 64, true, lap, out _));
        for (int i = 0; i < Num; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsed(chain.Head, 8);
        }
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryGetUsed(out _, out _));
        // The peer scribbles every free descriptor (a different address, a NEXT chain flag) and every free slot.
        for (int d = 0; d < Num; d++)
            bed.WriteDescriptor(d, VringTestBed.SlotAddress(9), 16, VringFlags.DescriptorNext, (ushort)((d + 1) % Num));
        for (int s = 0; s < Num; s++)
            bed.WriteUInt16(bed.Layout.AvailOffset + 4 + 2L * s, (ushort)((s + 1) % Num));
        // Lap 2 re-posts the same buffers: what the device reads is what was posted, not the scribble.
        var posted = new Dictionary<int, int>();
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryAddPooledAndPublish(VringTestBed.SlotAddress(i), 64, true, i, out _));
        for (int i = 0; i < Num; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            Assert.Equal((1, 64u, true), (chain.SegmentCount, chain[0].Length, chain[0].DeviceWritable));
            posted[chain.Head] = (int)((chain[0].DeviceAddress - VringTestBed.BufferAddress) / VringTestBed.SlotSize);
            device.PushUsed(chain.Head, 8);
        }
        Assert.Equal([0, 1, 2, 3], posted.Values.Order().ToArray());
        Assert.False(device.IsBroken);
        var tokens = new int[Num];
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryGetUsed(out tokens[i], out _));
        Assert.Equal([0, 1, 2, 3], tokens.Order().ToArray());
    }

    [Fact]
    public void ScribbleOnAnEntryTheRecordSaysIsUnchanged_IsCaughtByTheReadBackAndRewritten()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        // One buffer at a time: descriptor k and slot k on the k-th post, so after a lap slot s holds head s.
        for (int lap = 0; lap < Num; lap++)
            Assert.Equal(lap, RoundTrip(driver, device, slot: 1, 64, writable: true, token: lap));
        // The same buffer would now go to descriptor 0 and slot 0 unchanged; the peer scribbles both first.
        bed.WriteDescriptor(0, VringTestBed.SlotAddress(9), 16, 0, 0);
        bed.WriteUInt16(bed.Layout.AvailOffset + 4, 2);
        // The device must see descriptor 0 with buffer 1 again, not head 2 or buffer 9.
        Assert.Equal(0, RoundTrip(driver, device, slot: 1, 64, writable: true, token: 99));
        Assert.False(device.IsBroken);
        Assert.Equal(0, driver.RingWritesSkipped);
    }

    [Fact]
    public void AfterReset_TheSameBufferInTheSameDescriptorIsSeenAgain()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        int head = RoundTrip(driver, device, slot: 2, 64, writable: true, token: 2);
        driver.Reset(); // zeroes the ring: the descriptor no longer holds the buffer
        device.Reset();
        Assert.Equal(head, RoundTrip(driver, device, slot: 2, 64, writable: true, token: 2));
    }

    [Fact]
    public void ManyLapsOfAFewBuffers_DeviceAlwaysSeesTheBufferPosted()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int lap = 0; lap < 5 * Num; lap++)
            RoundTrip(driver, device, slot: lap % 3, 64, writable: true, token: lap);
        Assert.Equal(Num, driver.FreeCount);
    }
}
