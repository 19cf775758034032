using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Review;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.Virtio;

namespace VirtioRpmsg.Tests.DeviceMemory;

// The suites added since DeviceMemorySuites.cs was written, once more in the strict checking mode: pipes, streams,
// held and zero-copy buffers (views, fences, redelivery), direct receive, batched publication and release, the tx
// prefetch, and the virtqueue paths added with them. Not re-run: the ring-shadow and peek suites, which assert the
// Normal-memory shortcuts that Device memory turns off on purpose (DriverRingRewrite, DeviceRingRewrite,
// RpmsgSteadyRingReuse, DevicePeek, DriverPeek); vhost-user (shared memory, never Device memory).
// Run alone: dotnet test --filter Category=DeviceMemory

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgPipeReaderTestsOnDeviceMemory : RpmsgPipeReaderTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgPipeReaderReviewTestsOnDeviceMemory : RpmsgPipeReaderReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgPipeContractTestsOnDeviceMemory : RpmsgPipeContractTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgPipesReviewTestsOnDeviceMemory : RpmsgPipesReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgPipeOutputCompletionTestsOnDeviceMemory : RpmsgPipeOutputCompletionTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDuplexPipeTestsOnDeviceMemory : RpmsgDuplexPipeTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDuplexPipeInterruptReviewTestsOnDeviceMemory : RpmsgDuplexPipeInterruptReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgStreamTestsOnDeviceMemory : RpmsgStreamTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgStreamContractTestsOnDeviceMemory : RpmsgStreamContractTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgHeldBufferRedeliveryTestsOnDeviceMemory : RpmsgHeldBufferRedeliveryTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class HeldBufferPinnedRedeliveryReviewTestsOnDeviceMemory : HeldBufferPinnedRedeliveryReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RxViewDisposeReviewTestsOnDeviceMemory : RxViewDisposeReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgLeasesReviewTestsOnDeviceMemory : RpmsgLeasesReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgZeroCopyFenceTestsOnDeviceMemory : RpmsgZeroCopyFenceTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgZeroCopyBatchOrderTestsOnDeviceMemory : RpmsgZeroCopyBatchOrderTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class ZeroCopyStopRaceReviewTestsOnDeviceMemory : ZeroCopyStopRaceReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class TxPathZeroCopyReuseReviewTestsOnDeviceMemory : TxPathZeroCopyReuseReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class TxPathHostileReplyBufferReviewTestsOnDeviceMemory : TxPathHostileReplyBufferReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class TxPathPayloadReviewTestsOnDeviceMemory : TxPathPayloadReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDirectReceiveTestsOnDeviceMemory : RpmsgDirectReceiveTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgBatchPublicationTestsOnDeviceMemory : RpmsgBatchPublicationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgBatchedReleaseTestsOnDeviceMemory : RpmsgBatchedReleaseTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgReceiveGiveBackTestsOnDeviceMemory : RpmsgReceiveGiveBackTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgRxPathReviewTestsOnDeviceMemory : RpmsgRxPathReviewTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgKickDrainTestsOnDeviceMemory : RpmsgKickDrainTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgNotificationSuppressionTestsOnDeviceMemory : RpmsgNotificationSuppressionTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgTxPrefetchTestsOnDeviceMemory : RpmsgTxPrefetchTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class WakePrefetchTestsOnDeviceMemory : WakePrefetchTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VirtqueueBatchedPublicationTestsOnDeviceMemory : VirtqueueBatchedPublicationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VirtqueueCombinedOpsTestsOnDeviceMemory : VirtqueueCombinedOpsTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class DescriptorFreeOrderTestsOnDeviceMemory : DescriptorFreeOrderTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class DisableHintTestsOnDeviceMemory : DisableHintTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class BarrierDomainTestsOnDeviceMemory : BarrierDomainTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class TablelessVdevControlTestsOnDeviceMemory : TablelessVdevControlTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}
