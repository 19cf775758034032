using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Review (lifecycle): <see cref="RemoteProcessor.Dispose"/> called from one of the processor's own event handlers,
/// i.e. inside a transition (an application shutting down when it sees a state). It used to mark the processor
/// disposed and return; the transition then went on and left a session running that nothing would ever stop (a later
/// Dispose returned at once): devices, dispatcher threads, doorbells and the mapping leaked, the remote kept running.
/// The dispose now completes when the transition it interrupted ends.
/// </summary>
public class RemoteProcessorDisposeInHandlerTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Fact]
    public void DisposeFromStateChangedWhileStarting_AfterStartNothingRunsAndTheRemoteIsStopped()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        RpmsgDevice? device = null;
        rp.StateChanged += (_, to) =>
        {
            if (to == RemoteProcessorState.Starting)
                rp.Dispose();
        };
        rp.StateChanged += (_, to) =>
        {
            if (to == RemoteProcessorState.Running)
                device = rp.Device;
        };

        rp.Start();

        Assert.NotNull(device);
        Assert.Equal(RpmsgDeviceState.Stopped, device!.State);
        Assert.Equal(RemoteProcessorState.Stopped, rp.State);
        Assert.Null(rp.Device);
        Assert.NotEqual(RemoteControlState.Running, rig.Control.State);
        Assert.False(rig.Region.IsMapped, "the shared memory is still mapped");
    }

    // Automatic recovery runs on the monitor thread: a RecoveryFinished handler that disposes ends the new session too.
    [Fact]
    public void DisposeFromRecoveryFinished_OnTheMonitorThread_TheRecoveredSessionIsTornDown()
    {
        using var rig = SimulatedRemoteRig.CreateAutoRecovering(RemoteRecoveryMode.Boot);
        var rp = rig.Processor;
        using var finished = new ManualResetEventSlim();
        RpmsgDevice? recovered = null;
        rp.RecoveryFinished += _ =>
        {
            recovered = rp.Device;
            rp.Dispose();
            finished.Set();
        };
        rp.Start();
        rp.ReportCrash("test");

        Assert.True(finished.Wait(Bound), $"no recovery ({rp})");
        Assert.True(SpinWait.SpinUntil(() => rp.State == RemoteProcessorState.Stopped, Bound), $"state {rp.State}");
        Assert.NotNull(recovered);
        Assert.Equal(RpmsgDeviceState.Stopped, recovered!.State);
        Assert.Null(rp.Device);
    }
}
