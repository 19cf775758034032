using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>A default <see cref="RegionHandle"/> (bound to no region) refuses a lease with a clear exception, not a NullReferenceException.</summary>
public sealed class RegionHandleReviewTests
{
    [Fact]
    public void DefaultHandle_Acquire_ThrowsInvalidOperation_NamingTheUnboundHandle()
    {
        var handle = default(RegionHandle);

        var acquire = Record.Exception(() => { using var lease = handle.Acquire(); });
        var tryAcquire = Record.Exception(() => handle.TryAcquire(out _));

        Assert.IsType<InvalidOperationException>(acquire);
        Assert.Contains("bound to no region", acquire.Message);
        Assert.IsType<InvalidOperationException>(tryAcquire);
        Assert.Contains("bound to no region", tryAcquire.Message);
        Assert.Equal(0, MappingLease.HeldByCurrentThread);
    }
}
