using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>
/// The re-run mechanism itself: a suite's regions are in checking mode only in its OnDeviceMemory twin, and
/// that includes regions created by the suite's constructor and on threads the test starts.
/// </summary>
public class DeviceMemoryScopeTests
{
    private readonly SharedMemoryRegion _fromConstructor = SharedMemoryRegion.CreateAnonymous(4096, name: "ctor");

    protected virtual bool Checking => false;

    [Fact]
    public void Regions_FromConstructorTestAndThreads_AreCheckedExactlyInTheDeviceMemoryRun()
    {
        using var fromTest = SharedMemoryRegion.CreateAnonymous(4096, name: "test");
        SharedMemoryRegion? fromThread = null;
        var thread = new Thread(() => fromThread = SharedMemoryRegion.CreateAnonymous(4096, name: "thread"));
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "region-creating thread did not finish");
        try
        {
            foreach (var region in new[] { _fromConstructor, fromTest, fromThread! })
            {
                using var lease = region.Acquire();
                Assert.Equal(Checking, lease.IsDeviceMemory);
                lease.WriteUInt32(8, 42);
                Assert.Equal(42u, lease.ReadUInt32(8));
            }
            Assert.Equal(Checking, DeviceMemoryScope.IsActive);
        }
        finally
        {
            fromThread!.Dispose();
            _fromConstructor.Dispose();
        }
    }
}

[Trait("Category", "DeviceMemory")]
public sealed class DeviceMemoryScopeTestsOnDeviceMemory : DeviceMemoryScopeTests, IDisposable
{
    private readonly DeviceMemoryScope _scope = DeviceMemoryScope.Enter();

    protected override bool Checking => true;

    public void Dispose()
    {
        // Three regions, each written and read once through a 4-byte accessor.
        Assert.Equal(6, _scope.Checker.AccessesOfWidth(4));
        _scope.Dispose();
    }
}
