using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review (stoprace), RemoteProcessor: its transition lock was refused without waiting only to a receive callback of a
/// device the transition stops. A Probe on the application's thread (late RegisterDriver) that the teardown's stop waits
/// for, and, now that a second Stop waits for the first, the application's own thread stopping the device (in its
/// StateChanged(Stopped) handler), also hold up that stop: a Stop or Dispose of the processor from there waited for the
/// lock forever. It is now refused (Stop) or left to the transition (Dispose), as from a receive callback.
/// </summary>
public sealed class StopRaceProcessorReviewTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ProcessorStopOrDispose_FromTheApplicationsDeviceStoppedHandler_WhileATransitionWaitsForThatStop_NoDeadlock(bool dispose)
    {
        var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        var device = rp.Device!;
        using var entered = new ManualResetEventSlim();
        using var waiting = new ManualResetEventSlim();
        device.WaitingForStop = waiting.Set;
        string outcome = "the handler did not finish";
        device.StateChanged += (_, state) =>
        {
            if (state != RpmsgDeviceState.Stopped || entered.IsSet)
                return;
            entered.Set();
            outcome = waiting.Wait(Bound) ? Outcome(dispose ? rp.Dispose : rp.Stop) : "the processor's stop never waited for the application's";
        };
        var appStop = Task.Run(() => device.Stop("the application"));
        Assert.True(entered.Wait(Bound), "the application's Stop never raised Stopped");

        var stop = Task.Run(rp.Stop);

        Assert.True(appStop.Wait(Bound + Bound), "the application's Stop never returned: its handler waits for the transition lock, whose holder waits for that Stop");
        Assert.True(stop.Wait(Bound), "RemoteProcessor.Stop never returned");
        AssertOutcome(rig, dispose, outcome);
    }

    [Fact]
    public void ProcessorDispose_FromALateProbeThatTheTeardownWaitsFor_NoDeadlock()
    {
        var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { Services = ["rpmsg-late"] }, echoDriver: false);
        var rp = rig.Processor;
        rp.Start();
        var device = rp.Device!;
        Assert.True(SpinWait.SpinUntil(() => device.UnboundServiceCount >= 1 && device.AnnouncedServiceNames.Contains("rpmsg-late"), Bound), "the remote never announced rpmsg-late");
        using var probing = new ManualResetEventSlim();
        using var waitedFor = new ManualResetEventSlim();
        device.WaitingForProbe = waitedFor.Set;
        string outcome = "the probe did not finish";
        var register = Task.Run(() => rp.RegisterDriver(new RpmsgServiceDriver("rpmsg-late")
        {
            Probe = _ =>
            {
                probing.Set();
                outcome = waitedFor.Wait(Bound) ? Outcome(rp.Dispose) : "the teardown never waited for this probe";
            },
        }));
        Assert.True(probing.Wait(Bound), "the probe never ran");

        var stop = Task.Run(rp.Stop);

        Assert.True(register.Wait(Bound + Bound), "the Probe never returned: its Dispose waits for the transition lock, whose holder waits for the Probe");
        Assert.True(stop.Wait(Bound), "RemoteProcessor.Stop never returned");
        AssertOutcome(rig, dispose: true, outcome);
    }

    private static void AssertOutcome(SimulatedRemoteRig rig, bool dispose, string outcome)
    {
        var rp = rig.Processor;
        if (dispose)
        {
            Assert.Equal("returned", outcome);
            Assert.Throws<ObjectDisposedException>(rp.Start); // the transition completed the dispose when it ended
        }
        else
        {
            Assert.StartsWith("InvalidOperationException: ", outcome);
            Assert.Equal(RemoteProcessorState.Stopped, rp.State);
        }
        Assert.False(rig.Region.IsMapped, "the shared memory is still mapped");
        rig.Dispose();
    }

    private static string Outcome(Action action)
    {
        try
        {
            action();
            return "returned";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }
}
