using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Re-review (rereview-f) of the vhost4 reviewer's suspicion: SET_MEM_TABLE whose dispose of the old guest memory times
/// out (a lease outlived the drain) ends the connection, and the back-end's Dispose disposes that memory again. Refuted:
/// a second Dispose of a region whose first one timed out neither throws for the released descriptor nor double-unmaps;
/// it finishes the unmap once the lease is gone, and a third is a no-op.
/// </summary>
public sealed class RereviewFRegionDisposeTests
{
    [Fact]
    public void DisposeTimedOut_DisposedAgainAfterTheLeaseEnded_FinishesTheUnmapOnce()
    {
        string name = "vrpmsg-rereview-f-" + Guid.NewGuid().ToString("N")[..8];
        var region = SharedMemoryRegion.CreateMemFd(name, 4 * 4096);
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = Task.Factory.StartNew(() =>
        {
            using var lease = region.Acquire();
            holding.Set();
            Assert.True(release.Wait(TimeSpan.FromSeconds(30)), "the test never released the lease");
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(holding.Wait(TimeSpan.FromSeconds(30)), "the holder did not take its lease");
        Assert.Throws<TimeoutException>(() => region.Dispose(TimeSpan.FromMilliseconds(20)));
        Assert.Throws<TimeoutException>(() => region.Dispose(TimeSpan.FromMilliseconds(20))); // still held: the same answer
        release.Set();
        Assert.True(holder.Wait(TimeSpan.FromSeconds(30)), "the holder did not end");
        Assert.True(MapsMention(name), "the memory was unmapped under the lease");
        region.Dispose(); // the teardown's dispose: finishes the unmap
        Assert.False(MapsMention(name), "the second Dispose left the memory mapped");
        region.Dispose();
        Assert.True(region.Descriptor!.IsClosed);
        Assert.Throws<RegionClosedException>(() => region.Acquire());
        Assert.Throws<ObjectDisposedException>(region.Remap);
    }

    private static bool MapsMention(string memfdName) =>
        File.ReadLines("/proc/self/maps").Any(line => line.Contains("/memfd:" + memfdName, StringComparison.Ordinal));
}
