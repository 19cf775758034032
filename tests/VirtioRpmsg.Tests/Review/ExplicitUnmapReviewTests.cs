using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// An explicit Unmap waits for the region's leases to drain, then disposes its mapping. That release defers the munmap
/// to a later collection while any slot names the region (meant for the finalizer of a forgotten region under a leaked
/// lease). After the drain a slot can still name the region for a moment: a thread trying to lease the closed region
/// (a sender racing Stop, seed 001) publishes its slot, reads the closed bit, and leaves. Caught in that moment the
/// explicit unmap became a deferred one: Unmap returned and the memory stayed mapped until a collection, which an
/// allocation-free process may never run (each recovery then leaves a whole region mapped behind it).
/// The race itself is a few instructions wide; this pins the release the way UnmapLocked makes it (drained, then
/// disposed) with a slot published meanwhile by another thread that has not yet read the closed bit.
/// </summary>
public sealed class ExplicitUnmapReviewTests
{
    [Fact]
    public void ExplicitRelease_WhileAnAcquirerHasPublishedItsSlot_UnmapsAtOnce()
    {
        string name = "vrpmsg-explicit-unmap-" + Guid.NewGuid().ToString("N")[..8];
        using var region = SharedMemoryRegion.CreateMemFd(name, 0x4000);
        region.Unmap(); // only the block below maps the memfd now; the descriptor stays
        Assert.False(MapsMention(name));
        var block = MappedBlock.Map(region.Descriptor!.Value, name, 0, 0x4000, guardPages: false);
        // An id no real region of this process has (ids count up from 1).
        long regionId = (1L << 38) + Random.Shared.Next(1 << 20);
        block.RegionId = regionId;
        Assert.True(MapsMention(name), "the block is not mapped");

        using var published = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var acquirer = new Thread(() =>
        {
            // Acquire's first step: the slot is published; the state read (closed: leave) comes next.
            var table = ThreadLeaseTable.Current;
            int slot = table.Enter(regionId, out uint tag);
            published.Set();
            leave.Wait();
            table.TryExit(slot, tag);
        });
        acquirer.Start();
        try
        {
            Assert.True(published.Wait(TimeSpan.FromSeconds(10)));
            block.Dispose();
            Assert.False(MapsMention(name), $"the block was disposed explicitly (its leases drained), but the memfd '{name}' is still mapped: the munmap was deferred to a collection");
        }
        finally
        {
            leave.Set();
            acquirer.Join();
            // On a failure: let the deferred unmap run now that the slot is free, so no mapping outlives the test.
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private static bool MapsMention(string memfdName) =>
        File.ReadLines("/proc/self/maps").Any(line => line.Contains("/memfd:" + memfdName, StringComparison.Ordinal));
}
