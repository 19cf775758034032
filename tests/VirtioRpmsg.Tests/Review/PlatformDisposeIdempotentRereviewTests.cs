using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Lifecycle;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// PlatformResources.Dispose of a platform whose teardown already finished must stay a no-op, as it was before the
/// lease check moved to its top (and as IDisposable asks): a thread that holds a lease on some other memory (another
/// link's zero-copy view, say) and disposes it a second time (a using after an explicit Dispose, an owner and a link
/// both disposing it) got LeaseHeldException although nothing was left to unmap.
/// </summary>
public sealed class PlatformDisposeIdempotentRereviewTests
{
    [Fact]
    public void SecondDispose_AfterAFinishedOne_WhileThisThreadHoldsAnUnrelatedLease_DoesNotThrow()
    {
        var platform = PlatformResources.Open(PlatformResourcesTests.Anonymous());
        using var other = PlatformResources.Open(PlatformResourcesTests.Anonymous());
        platform.Dispose();
        using (var lease = other.Regions[0].Acquire())
        {
            var error = Record.Exception(() => platform.Dispose());
            Assert.True(error is null, $"a second Dispose of a platform already torn down threw {error?.GetType().Name}: {error?.Message}");
            Assert.True(lease.IsActive);
        }
    }
}
