using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Tests.Simulation;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Issue 16 item 2: several remote processors in one process, each its own RemoteProcessor; one's crashes and recoveries never touch the other.</summary>
public class SeveralRemoteProcessorsTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Fact]
    public void TwoRemoteProcessors_OneCrashesAndRecoversThreeTimes_TheOtherKeepsItsDeviceAndTraffic()
    {
        using var a = SimulatedRemoteRig.CreateAutoRecovering(RemoteRecoveryMode.Boot);
        using var b = SimulatedRemoteRig.CreateAutoRecovering(RemoteRecoveryMode.Boot);
        a.Processor.Start();
        b.Processor.Start();
        a.EchoRoundTrip(1);
        b.EchoRoundTrip(1);
        var bDevice = b.Processor.Device!;

        for (int crash = 1; crash <= 3; crash++)
        {
            var before = a.Processor.Device!;
            // Seeds 002/003: recovery must work again and again, not only the first time.
            int statusOffset = a.Platform.RpmsgVdev!.StatusByteOffset;
            using (var lease = a.Region.Acquire())
                lease.WriteByteRelease(statusOffset, (byte)(lease.ReadByteAcquire(statusOffset) | (byte)VirtioStatus.NeedsReset));
            int expected = crash;
            Assert.True(SpinWait.SpinUntil(() => a.Processor.RecoveryCount == expected && a.Processor.State == RemoteProcessorState.Running, Bound),
                $"crash {crash}: remote a is {a.Processor} ");
            Assert.NotSame(before, a.Processor.Device);
            a.EchoRoundTrip(100 + crash);

            b.EchoRoundTrip(200 + crash);
            Assert.Same(bDevice, b.Processor.Device);
            Assert.Equal(RemoteProcessorState.Running, b.Processor.State);
            Assert.Equal(0, b.Processor.CrashCount);
        }
        Assert.Equal(3, a.Processor.CrashCount);
    }
}
