using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgDataGateTests
{
    private static Fault SampleFault() =>
        new(FaultLayer.Virtqueue, FaultRule.UsedIdOutOfRange, "used.ring[0].id", 999, "used id out of range");

    [Fact]
    public void Enter_Running_ReturnsTransportAndCountsInFlight()
    {
        using var loop = RpmsgLoopback.Create();
        var gate = loop.Host.Gate;
        Assert.NotNull(gate.Enter());
        Assert.Equal(1, gate.InFlight);
        gate.Exit();
        Assert.Equal(0, gate.InFlight);
    }

    [Fact]
    public void Enter_Stopped_ThrowsUnavailableAndLeavesNothingInFlight()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.Stop("test");
        Assert.Throws<RpmsgDeviceUnavailableException>(() => loop.Host.Gate.Enter());
        Assert.False(loop.Host.Gate.TryEnter(out _));
        Assert.Equal(0, loop.Host.Gate.InFlight);
    }

    [Fact]
    public void Translate_RegionClosed_ReturnsUnavailableNamingTheUnmap()
    {
        using var loop = RpmsgLoopback.Create();
        var translated = loop.Host.Gate.Translate(new RegionClosedException("x", 1));
        var ex = Assert.IsType<RpmsgDeviceUnavailableException>(translated);
        Assert.Contains("shared memory unmapped", ex.Message);
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State); // unmapping is a stop racing us, not a fault
    }

    [Fact]
    public void Translate_FaultException_BreaksDeviceAndRethrowsTheSameException()
    {
        using var loop = RpmsgLoopback.Create();
        var original = new VirtqueueBrokenException("vq0", SampleFault());
        var thrown = Assert.Throws<VirtqueueBrokenException>(() => loop.Host.Gate.Translate(original));
        Assert.Same(original, thrown);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Same(original.Fault, loop.Host.Fault);
    }

    [Fact]
    public void Translate_FaultAsUnavailable_CarriesTheFault()
    {
        using var loop = RpmsgLoopback.Create();
        var fault = SampleFault();
        var ex = Assert.IsType<RpmsgDeviceUnavailableException>(loop.Host.Gate.Translate(new VirtqueueBrokenException("vq0", fault), faultAsUnavailable: true));
        Assert.Same(fault, ex.Fault);
        Assert.Equal(RpmsgDeviceState.Broken, ex.State);
    }

    [Fact]
    public void Absorb_FaultOnSwallowingPath_StillBreaksTheDevice()
    {
        using var loop = RpmsgLoopback.Create();
        var fault = SampleFault();
        loop.Host.Gate.Absorb(new VirtqueueBrokenException("vq0", fault), "held rx buffer not returned");
        Assert.Equal(RpmsgDeviceState.Broken, loop.Host.State);
        Assert.Same(fault, loop.Host.Fault);
    }

    [Fact]
    public void Absorb_RegionClosed_DoesNotBreak()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.Gate.Absorb(new RegionClosedException("x", 1), "held rx buffer not returned");
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
    }

    [Fact]
    public void Break_SecondFault_FirstIsKept()
    {
        using var loop = RpmsgLoopback.Create();
        var first = SampleFault();
        loop.Host.Gate.Absorb(new VirtqueueBrokenException("vq0", first), "a");
        loop.Host.Gate.Absorb(new VirtqueueBrokenException("vq1", SampleFault()), "b");
        Assert.Same(first, loop.Host.Fault);
    }

    [Fact]
    public void WaitForDrain_OperationInFlight_ReturnsOnlyAfterExit()
    {
        using var loop = RpmsgLoopback.Create();
        var gate = loop.Host.Gate;
        gate.Enter();
        using var draining = new ManualResetEventSlim();
        var drain = Task.Run(() =>
        {
            draining.Set();
            gate.WaitForDrain();
        });
        Assert.True(draining.Wait(TimeSpan.FromSeconds(30)));
        // A correct drain never returns while an operation is in flight, so this cannot flake.
        Assert.False(drain.Wait(TimeSpan.FromMilliseconds(100)), "WaitForDrain returned with an operation in flight");
        gate.Exit();
        Assert.True(drain.Wait(TimeSpan.FromSeconds(30)));
    }
}
