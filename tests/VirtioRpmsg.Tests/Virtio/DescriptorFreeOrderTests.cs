using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>
/// The driver's descriptor free list is first in, first out: descriptors are handed out in the order the device
/// returned them, whole chains included, so buffers re-posted in the order they came back land in the same
/// descriptors lap after lap (and the ring entries need not be rewritten).
/// </summary>
public class DescriptorFreeOrderTests
{
    private const int Num = 8;

    private static int[] TakeAll(VirtqueueDevice device, int count)
    {
        var heads = new int[count];
        for (int i = 0; i < count; i++)
        {
            Assert.True(device.TryTakeAvailable(out var chain));
            heads[i] = chain.Head;
        }
        return heads;
    }

    [Fact]
    public void DescriptorsAreHandedOutInTheOrderTheyWereReturned()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        for (int i = 0; i < 4; i++)
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 64, deviceWritable: false, token: i));
        driver.KickPrepare();
        Assert.Equal([0, 1, 2, 3], TakeAll(device, 4));
        // Returned out of order: 2, 0, 3, 1.
        foreach (int head in new[] { 2, 0, 3, 1 })
            device.PushUsed(head, 64);
        for (int i = 0; i < 4; i++)
            Assert.True(driver.TryGetUsed(out _, out _));
        // Never used yet (4..7) come first, then the returned ones in their order.
        for (int i = 0; i < Num; i++)
            Assert.True(driver.TryAdd(VringTestBed.SlotAddress(i), 64, deviceWritable: false, token: 10 + i));
        driver.KickPrepare();
        Assert.Equal([4, 5, 6, 7, 2, 0, 3, 1], TakeAll(device, Num));
        Assert.Equal(0, driver.FreeCount);
    }

    [Fact]
    public void ChainsTakeConsecutiveFreeDescriptors_AndComeBackWhole()
    {
        using var bed = new VringTestBed(Num);
        var driver = bed.CreateDriver();
        var device = bed.CreateDevice();
        BufferSegment[] three = [new(VringTestBed.SlotAddress(0), 16, false), new(VringTestBed.SlotAddress(1), 32, false), new(VringTestBed.SlotAddress(2), 64, true)];
        BufferSegment[] two = [new(VringTestBed.SlotAddress(3), 16, false), new(VringTestBed.SlotAddress(4), 64, true)];
        for (int round = 0; round < 5; round++)
        {
            // 3 + 2 + 3 = all 8 descriptors; every round frees them in another order (the second chain first).
            Assert.True(driver.TryAddChain(three, 100 * round + 1));
            Assert.True(driver.TryAddChain(two, 100 * round + 2));
            Assert.True(driver.TryAddChain(three, 100 * round + 3));
            Assert.False(driver.TryAdd(VringTestBed.SlotAddress(5), 8, false, 0));
            driver.KickPrepare();
            var chains = new List<(int Head, int Count, ulong Last)>();
            for (int i = 0; i < 3; i++)
            {
                Assert.True(device.TryTakeAvailable(out var chain));
                chains.Add((chain.Head, chain.SegmentCount, chain[chain.SegmentCount - 1].DeviceAddress));
            }
            Assert.Equal([3, 2, 3], chains.Select(c => c.Count).ToArray());
            Assert.Equal([VringTestBed.SlotAddress(2), VringTestBed.SlotAddress(4), VringTestBed.SlotAddress(2)], chains.Select(c => c.Last).ToArray());
            foreach (int i in new[] { 1, 2, 0 })
                device.PushUsed(chains[i].Head, 8);
            var tokens = new int[3];
            for (int i = 0; i < 3; i++)
                Assert.True(driver.TryGetUsed(out tokens[i], out _));
            Assert.Equal([100 * round + 2, 100 * round + 3, 100 * round + 1], tokens);
            Assert.Equal(Num, driver.FreeCount);
        }
        Assert.False(device.IsBroken);
    }
}
