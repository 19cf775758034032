using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// RemoteProcessor.Dispose on a thread that holds a lease (an unsent tx buffer in its scope). Every transition refuses
/// that up front (LeaseHeldException, nothing changed); Dispose did not: its teardown stopped the device and the
/// remote, then the unmap refused the calling thread's lease, the teardown ended there (only a TimeoutException is
/// expected from it), the error was logged and the processor stayed "Running" with its session gone and its memory
/// closed but mapped, while every later Dispose returned at once.
/// </summary>
public sealed class ProcessorDisposeUnderLeaseReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public void Dispose_WhileThisThreadHoldsATxBuffer_EndsStoppedOrRefusesWithNothingChanged()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { UnmapDrainTimeout = TimeSpan.FromMilliseconds(100) });
        var rp = rig.Processor;
        rp.Start();
        var channel = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
        var tx = channel.Endpoint.GetTxBuffer(Bound);
        Exception? thrown = null;
        try
        {
            tx.Span[0] = 1;
            rp.Dispose();
        }
        catch (Exception e)
        {
            thrown = e;
        }
        finally
        {
            tx.Dispose();
        }
        if (thrown is not null)
        {
            Assert.IsType<LeaseHeldException>(thrown);
            Assert.Equal(RemoteProcessorState.Running, rp.State); // refused: nothing changed
            rp.Dispose();
        }
        Assert.True(rp.State == RemoteProcessorState.Stopped,
            $"after Dispose ({(thrown is null ? "no exception" : thrown.GetType().Name)}) the processor is {rp.State}; region mapped for leases: {rig.Region.IsMapped}");
        rig.Region.Unmap(TimeSpan.Zero); // nothing left under it
    }
}
