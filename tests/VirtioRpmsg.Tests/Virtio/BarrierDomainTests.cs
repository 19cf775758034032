using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>Issue 14 item 8: a ring takes its barrier strength from its region, and the strong barriers work.</summary>
public class BarrierDomainTests
{
    [Theory]
    [InlineData(BarrierDomain.InnerShareable, false)]
    [InlineData(BarrierDomain.System, true)]
    public void Vring_TakesTheRegionsBarrierDomain_AndRoundTripsWithEventIndex(BarrierDomain barriers, bool system)
    {
        using var region = SharedMemoryRegion.CreateAnonymous(0x10000, deviceAddress: 0x4000_0000, barriers: barriers);
        using var buffers = SharedMemoryRegion.CreateAnonymous(0x1000, deviceAddress: 0x8000_0000);
        var vring = new Vring(region.Bind(), 0, new VringLayout(8, 4096));
        Assert.Equal(system, vring.SystemBarriers);
        var map = new AddressMap().Add(buffers);
        var driver = new VirtqueueDriver("d", vring, map, eventIndex: true);
        var device = new VirtqueueDevice("v", vring, map, eventIndex: true);

        for (int round = 0; round < 40; round++)
        {
            Assert.True(driver.TryAdd(0x8000_0000, 64, deviceWritable: true, token: round));
            Assert.True(driver.KickPrepare() || round > 0, "the first publish must notify");
            Assert.True(device.TryTakeAvailable(out var chain));
            device.PushUsed(chain.Head, 32);
            device.NotifyPrepare();
            Assert.True(driver.TryGetUsed(out int token, out uint length));
            Assert.Equal((round, 32u), (token, length));
        }
        // Notification re-arm runs the store->load fence and re-checks: nothing is pending, so it is safe to wait.
        Assert.True(device.EnableNotifications());
        Assert.True(driver.EnableInterrupts());
    }

    [Fact]
    public void SystemBarriers_NativeShim_RunsEachBarrier()
    {
        // Resolves and executes the shim's entry points (dsb sy / dmb osh* on ARM64, mfence on x86-64).
        var failure = Record.Exception(() =>
        {
            SharedMemoryBarriers.BeforePublish(system: true);
            SharedMemoryBarriers.AfterConsume(system: true);
            SharedMemoryBarriers.Full(system: true);
        });
        Assert.Null(failure);
    }
}
