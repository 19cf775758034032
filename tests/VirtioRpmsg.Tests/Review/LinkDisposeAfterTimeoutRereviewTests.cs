using System.Reflection;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// RpmsgLink.Dispose while another thread still holds a lease on the link's memory (a zero-copy view, a tx buffer,
/// or a caller blocked on DisposeAsync while its own thread holds one): the platform's unmap times out and throws, with
/// the region closed but still mapped. PlatformResources.Dispose promises "a later Dispose finishes it"; the link,
/// already marked disposed, must not swallow every later Dispose and leave the memory mapped for good.
/// </summary>
[Collection(VirtioRpmsg.Tests.Platform.DescriptorCountCollection.Name)]
public sealed class LinkDisposeAfterTimeoutRereviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void Dispose_AfterOneThatTimedOutOnAnotherThreadsLease_UnmapsTheMemory()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        var link = open.Result;
        link.Platform.DisposeDrainTimeout = TimeSpan.FromMilliseconds(20);
        var regions = link.Platform.Regions.ToArray();
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using var lease = regions[0].Acquire();
            held.Set();
            release.Wait();
        });
        holder.Start();
        try
        {
            Assert.True(held.Wait(Bound));
            Assert.Throws<TimeoutException>(() => link.Dispose());
        }
        finally
        {
            release.Set();
            holder.Join();
        }
        link.Dispose(); // the lease is gone: this one can finish the unmap
        foreach (var region in regions)
            Assert.False(HasBlock(region), $"region '{region.Name}' is still mapped after a Dispose that followed the timed-out one");
    }

    private static bool HasBlock(SharedMemoryRegion region) =>
        typeof(SharedMemoryRegion).GetField("_block", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(region) is not null;
}
