using System.Reflection;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// RpmsgLink.Dispose on a thread that still holds a lease (an unsent tx buffer, an open rx view in its scope): the
/// unmap cannot run under it, so the dispose must refuse before it changes anything, and a Dispose after the lease
/// ended must release everything. Before, it stopped the devices and closed the doorbells, then the platform's unmap
/// refused (LeaseHeldException), and the link, already marked disposed and torn down, ignored every later Dispose:
/// its memory stayed mapped for good.
/// </summary>
[Collection(VirtioRpmsg.Tests.Platform.DescriptorCountCollection.Name)]
public sealed class LinkDisposeUnderLeaseReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void Dispose_WhileThisThreadHoldsATxBuffer_Refuses_ThenALaterDisposeUnmapsTheMemory()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Name = "host", Timeout = Bound });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        var link = open.Result;
        var regions = link.Platform.Regions.ToArray();
        var ept = link.Devices[0].CreateEndpoint(0x700, 0x400u);
        var tx = ept.GetTxBuffer(Bound);
        try
        {
            tx.Span[0] = 1;
            Assert.Throws<LeaseHeldException>(() => link.Dispose());
        }
        finally
        {
            tx.Dispose();
        }
        link.Dispose();
        foreach (var region in regions)
            Assert.False(HasBlock(region), $"region '{region.Name}' is still mapped after the link's Dispose (the first one was refused under a lease)");
    }

    private static bool HasBlock(SharedMemoryRegion region) =>
        typeof(SharedMemoryRegion).GetField("_block", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(region) is not null;
}
