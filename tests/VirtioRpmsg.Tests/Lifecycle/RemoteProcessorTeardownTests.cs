using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The teardown order: sends refused and blocked senders woken, channels removed, and only then the memory unmapped.</summary>
public class RemoteProcessorTeardownTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Theory]
    [InlineData("stop")]
    [InlineData("detach")]
    [InlineData("crash")]
    public void TearDown_DriverRemove_SendsAlreadyRefusedMemoryStillMapped(string how)
    {
        using var rig = SimulatedRemoteRig.Create(echoDriver: false);
        var rp = rig.Processor;
        RpmsgDeviceState? stateInRemove = null;
        bool? mappedInRemove = null;
        Exception? sendInRemove = null;
        rp.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName)
        {
            Remove = c =>
            {
                stateInRemove = c.Device.State;
                mappedInRemove = rig.Region.IsMapped;
                sendInRemove = Record.Exception(() => c.Send([1]));
            },
        });
        rp.Start();
        rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);

        switch (how)
        {
            case "stop":
                rp.Stop();
                break;
            case "detach":
                rp.Detach();
                break;
            default:
                rp.ReportCrash("test");
                break;
        }

        Assert.Equal(RpmsgDeviceState.Stopped, stateInRemove);
        Assert.True(mappedInRemove, "the region was unmapped before the channel was removed");
        var refused = Assert.IsType<RpmsgDeviceUnavailableException>(sendInRemove);
        Assert.Contains("remote not running", refused.Message, StringComparison.Ordinal);
        Assert.False(rig.Region.IsMapped, "the region is still mapped after the teardown");
    }

    [Fact]
    public void Crash_SenderBlockedOnFullRing_WakesWithUnavailable()
    {
        // A long monitor interval and no status scribble: the crash is only known when reported.
        using var rig = SimulatedRemoteRig.Create(
            new RemoteProcessorOptions { MonitorInterval = TimeSpan.FromMinutes(5) },
            new InProcessSimulatedOptions { ReportNeedsResetOnCrash = false });
        var rp = rig.Processor;
        rp.Start();
        var channel = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
        var device = rp.Device!;
        rig.Control.InjectCrash(); // the remote vanishes: nobody returns the host's tx buffers any more
        Exception? outcome = null;
        long sent = 0;
        var sender = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    channel.Send([7]);
                    sent++;
                }
            }
            catch (Exception e)
            {
                outcome = e;
            }
        }) { IsBackground = true };
        sender.Start();
        Assert.True(SpinWait.SpinUntil(() => device.Counters.TxBufferWaits > 0 || outcome is not null, Bound), "the sender never blocked");

        rp.ReportCrash("stalled");

        Assert.True(sender.Join(Bound), "the blocked sender was not woken");
        var e = Assert.IsType<RpmsgDeviceUnavailableException>(outcome);
        Assert.Contains("remote not running", e.Message, StringComparison.Ordinal);
        Assert.True(sent > 0);
    }

    [Theory]
    [InlineData("stop")]
    [InlineData("detach")]
    public void StopOrDetach_ControlRefuses_CrashedAndStopOrRecoverWorkAgain(string how)
    {
        using var rig = RefusingControlRig.Create();
        var rp = rig.Processor;
        rp.Start();
        for (int cycle = 0; cycle < 4; cycle++)
        {
            SimulatedRemoteRig.EchoRoundTrip(rp, cycle);
            rig.Control.Refuse = true;
            var refused = Assert.Throws<RemoteProcessorControlException>(how == "stop" ? rp.Stop : rp.Detach);
            rig.Control.Refuse = false;
            Assert.Equal(how, refused.Command);
            // Everything local is gone and the remote's state is unknown: Crashed, not Running with no device.
            Assert.Equal(RemoteProcessorState.Crashed, rp.State);
            Assert.Null(rp.Device);
            Assert.False(rig.Platform.Regions[0].IsMapped);
            Assert.Contains($"{how} failed", rp.LastCrashReason, StringComparison.Ordinal);
            if (cycle % 2 == 0)
            {
                rp.Recover();
            }
            else
            {
                rp.Stop();
                Assert.Equal(RemoteProcessorState.Stopped, rp.State);
                rp.Start();
            }
            Assert.Equal(RemoteProcessorState.Running, rp.State);
        }
        SimulatedRemoteRig.EchoRoundTrip(rp, 99);
    }

    [Fact]
    public void Recover_LeaseOutlivedTheDrainThenReleased_Recovers()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { UnmapDrainTimeout = TimeSpan.FromMilliseconds(100) });
        var rp = rig.Processor;
        rp.Start();
        for (int cycle = 0; cycle < 2; cycle++)
        {
            using var release = new ManualResetEventSlim();
            var holder = SimulatedRemoteRig.HoldTxBuffer(rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), release);
            rp.ReportCrash("crash while a tx buffer is held"); // the drain times out: the region stays closed but mapped
            Assert.Equal(RemoteProcessorState.Crashed, rp.State);
            release.Set();
            Assert.True(holder.Join(Bound));

            rp.Recover(); // no lease is live any more

            Assert.Equal(RemoteProcessorState.Running, rp.State);
            rig.EchoRoundTrip(cycle);
        }
    }

    [Fact]
    public void AutoRecover_LeaseReleasedAfterTheDrainTimedOut_RunsAgain()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions
        {
            AutoRecover = true,
            MonitorInterval = TimeSpan.FromMilliseconds(1),
            UnmapDrainTimeout = TimeSpan.FromMilliseconds(100),
        });
        var rp = rig.Processor;
        rp.Start();
        using var release = new ManualResetEventSlim();
        var holder = SimulatedRemoteRig.HoldTxBuffer(rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound), release);
        using var recovered = new ManualResetEventSlim();
        rp.RecoveryFinished += _ => recovered.Set();
        // The lease goes after the crash's drain timed out, once the automatic recovery found it live and waits for it
        // (it used to start and fail on it, and was never tried again: recovery2).
        rp.RecoveryAwaitingLeases = () =>
        {
            release.Set();
            holder.Join();
        };

        rp.ReportCrash("crash while a tx buffer is held");

        Assert.True(recovered.Wait(Bound), $"{rp}: no lease is live, yet the automatic recovery failed");
        rig.EchoRoundTrip(1);
    }
}
