using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Tests.Rpmsg;
using VirtioRpmsg.Tests.Virtio;

namespace VirtioRpmsg.Tests.DeviceMemory;

// The in-process virtqueue, rpmsg and lifecycle suites once more, with every region in the strict
// Device-memory checking mode (DeviceMemoryScope). Each class only adds the scope: the field initializer
// runs before the suite's constructor, and Dispose fails the test on any access violation.
// Not re-run: cross-process suites (the child maps its own regions) and pure parsers (no shared memory).
// Run alone: dotnet test --filter Category=DeviceMemory

[Trait("Category", "DeviceMemory")]
public sealed class HandWrittenRingTestsOnDeviceMemory : HandWrittenRingTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class HostilePeerTestsOnDeviceMemory : HostilePeerTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class NotificationTestsOnDeviceMemory : NotificationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VirtqueueModelTestsOnDeviceMemory : VirtqueueModelTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VirtqueueConcurrencyTestsOnDeviceMemory : VirtqueueConcurrencyTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VirtqueueAllocationTestsOnDeviceMemory : VirtqueueAllocationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class VringLayoutTestsOnDeviceMemory : VringLayoutTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgAdapterTestsOnDeviceMemory : RpmsgAdapterTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgAllocationTestsOnDeviceMemory : RpmsgAllocationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgConcurrencyTestsOnDeviceMemory : RpmsgConcurrencyTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDataGateTestsOnDeviceMemory : RpmsgDataGateTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDeviceCountersTestsOnDeviceMemory : RpmsgDeviceCountersTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDeviceFaultTestsOnDeviceMemory : RpmsgDeviceFaultTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDiagnosticsTestsOnDeviceMemory : RpmsgDiagnosticsTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgDispatcherThreadTestsOnDeviceMemory : RpmsgDispatcherThreadTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgEchoTestsOnDeviceMemory : RpmsgEchoTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgEndpointQueueTestsOnDeviceMemory : RpmsgEndpointQueueTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgEndpointTableTestsOnDeviceMemory : RpmsgEndpointTableTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgNameServiceTestsOnDeviceMemory : RpmsgNameServiceTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgParkedBacklogTestsOnDeviceMemory : RpmsgParkedBacklogTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgQueueTestsOnDeviceMemory : RpmsgQueueTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgReviewRegressionTestsOnDeviceMemory : RpmsgReviewRegressionTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgRxDispatcherTestsOnDeviceMemory : RpmsgRxDispatcherTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgRxRingOwnerTestsOnDeviceMemory : RpmsgRxRingOwnerTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgSendTestsOnDeviceMemory : RpmsgSendTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgTxPathTestsOnDeviceMemory : RpmsgTxPathTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgVdevNegotiationTestsOnDeviceMemory : RpmsgVdevNegotiationTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RpmsgWireTestsOnDeviceMemory : RpmsgWireTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class FirmwareLoaderTestsOnDeviceMemory : FirmwareLoaderTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class PlatformResourcesRemapTestsOnDeviceMemory : PlatformResourcesRemapTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RandomInputTestsOnDeviceMemory : RandomInputTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RemoteProcessorChannelTestsOnDeviceMemory : RemoteProcessorChannelTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RemoteProcessorTeardownTestsOnDeviceMemory : RemoteProcessorTeardownTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class RemoteProcessorTestsOnDeviceMemory : RemoteProcessorTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class ResourceTableTestsOnDeviceMemory : ResourceTableTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class ResourceTableWriterTestsOnDeviceMemory : ResourceTableWriterTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
[Collection(DescriptorCountCollection.Name)]
public sealed class RemoteProcessorStopRaceTestsOnDeviceMemory : RemoteProcessorStopRaceTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
[Collection(DescriptorCountCollection.Name)]
public sealed class RemoteProcessorRecoveryLeakTestsOnDeviceMemory : RemoteProcessorRecoveryLeakTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}

[Trait("Category", "DeviceMemory")]
public sealed class PlatformResourcesTestsOnDeviceMemory : PlatformResourcesTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public new void Dispose()
    {
        try
        {
            base.Dispose();
        }
        finally
        {
            _scope.Dispose();
        }
    }
}

[Trait("Category", "DeviceMemory")]
[Collection(DescriptorCountCollection.Name)]
public sealed class PlatformResourcesLeakTestsOnDeviceMemory : PlatformResourcesLeakTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public new void Dispose()
    {
        try
        {
            base.Dispose();
        }
        finally
        {
            _scope.Dispose();
        }
    }
}

[Trait("Category", "DeviceMemory")]
public sealed class PlatformResourcesDoorbellTestsOnDeviceMemory : PlatformResourcesDoorbellTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    public void Dispose() => _scope.Dispose();
}
