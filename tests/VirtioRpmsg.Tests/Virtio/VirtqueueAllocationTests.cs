using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

public class VirtqueueAllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddPublishTakePushReclaim_AfterWarmUp_AllocatesNothing(bool eventIndex)
    {
        using var bed = new VringTestBed(16);
        var driver = bed.CreateDriver(eventIndex);
        var device = bed.CreateDevice(eventIndex);
        int completed = 0;

        void Cycle(int i)
        {
            bool ok = driver.TryAdd(VringTestBed.SlotAddress(i & 15), 128, (i & 1) == 0, i);
            Span<BufferSegment> chain = stackalloc BufferSegment[2];
            chain[0] = new BufferSegment(VringTestBed.SlotAddress(16), 16, false);
            chain[1] = new BufferSegment(VringTestBed.SlotAddress(17), 64, true);
            ok &= driver.TryAddChain(chain, -i);
            driver.KickPrepare();
            for (int k = 0; k < 2; k++)
            {
                ok &= device.TryTakeAvailable(out var taken);
                device.PushUsed(taken.Head, (uint)taken.WritableLength);
            }
            device.NotifyPrepare();
            driver.DisableInterrupts();
            ok &= driver.HasUsed;
            ok &= driver.TryGetUsed(out int t1, out _) && t1 == i;
            ok &= driver.TryGetUsed(out int t2, out _) && t2 == -i;
            ok &= driver.EnableInterrupts();
            if (ok)
                completed++;
        }

        int next = 0;
        var allocated = ThreadAllocation.Measure(2000, 10_000, () => Cycle(next++));

        allocated.AssertNone();
        Assert.Equal(2000 + 3 * 10_000, completed);
    }
}
