using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// PlatformResources.Dispose while the application still holds a lease (a tx buffer, an open rx view): a region whose
/// unmap cannot finish yet must not keep the other regions mapped, and a later Dispose must finish what is left, as a
/// region's own Dispose does ("a later Dispose or Unmap finishes the unmap"). Before, the first region that threw
/// ended the loop with the object already marked disposed: the regions after it stayed mapped for good, and every later
/// Dispose returned at once.
/// </summary>
public sealed class PlatformDisposeUnderLeaseReviewTests
{
    private static PlatformDescription TwoRegions()
    {
        var d = PlatformResourcesTests.Anonymous();
        return d with
        {
            Regions = [d.Regions[0], new RegionDescription { Name = "extra", Kind = PlatformRegionKind.Anonymous, DeviceAddress = 0x2000_0000, Size = 0x2000 }],
        };
    }

    [Fact]
    public void Dispose_WhileThisThreadHoldsALease_RefusesAndChangesNothing_ThenALaterDisposeUnmapsEveryRegion()
    {
        var platform = PlatformResources.Open(TwoRegions());
        var first = platform.Regions[0];
        var last = platform.Regions[1]; // disposed first (reverse order)
        using (var lease = last.Acquire())
        {
            Assert.Throws<LeaseHeldException>(() => platform.Dispose());
            Assert.True(lease.IsActive);
            lease.WriteByte(0, 1); // still mapped under the lease
        }
        platform.Dispose();
        Assert.False(first.IsMapped, $"region '{first.Name}' is still mapped after the Dispose that followed the refused one");
        Assert.False(last.IsMapped, $"region '{last.Name}' is still mapped after the Dispose that followed the refused one");
        Assert.Equal(0, first.LiveLeases);
        first.Dispose(); // idempotent: nothing left to do
    }

    [Fact]
    public void Dispose_WhileAnotherThreadHoldsALeaseOnOneRegion_UnmapsTheOthers_AndALaterDisposeFinishes()
    {
        var platform = PlatformResources.Open(TwoRegions());
        platform.DisposeDrainTimeout = TimeSpan.FromMilliseconds(20);
        var first = platform.Regions[0];
        var last = platform.Regions[1];
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using var lease = last.Acquire(); // an application's zero-copy buffer, say
            held.Set();
            release.Wait();
            lease.WriteByte(0, 2); // still mapped: the unmap never runs under a live lease
        });
        holder.Start();
        try
        {
            Assert.True(held.Wait(TimeSpan.FromSeconds(30)));
            Assert.Throws<TimeoutException>(() => platform.Dispose());
            Assert.False(first.IsMapped, $"region '{first.Name}' stayed mapped because another region's unmap timed out first");
        }
        finally
        {
            release.Set();
            holder.Join();
        }
        platform.Dispose();
        Assert.Equal(0, last.LiveLeases);
        // Finished by the later Dispose: the mapping itself is gone, not only closed to new leases.
        Assert.False(HasBlock(last), $"region '{last.Name}' is still mapped (closed) after the second Dispose");
        Assert.False(HasBlock(first), $"region '{first.Name}' is still mapped (closed) after the second Dispose");
    }

    // The region's mapping (null once unmapped): IsMapped only says whether new leases are taken.
    private static bool HasBlock(SharedMemoryRegion region) =>
        typeof(SharedMemoryRegion).GetField("_block", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(region) is not null;
}
