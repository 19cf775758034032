using System.Collections.Concurrent;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The state machine against the in-process simulated remote over a real shared-memory file.</summary>
public class RemoteProcessorTests
{
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    [Fact]
    public void Start_SimulatedRemote_MessagesEcho()
    {
        using var rig = SimulatedRemoteRig.Create();

        rig.Processor.Start();

        Assert.Equal(RemoteProcessorState.Running, rig.Processor.State);
        Assert.Equal(RemoteControlState.Running, rig.Control.State);
        rig.EchoRoundTrip(42);
        Assert.Equal(1, rig.Control.EchoedMessages);
    }

    [Fact]
    public void Lifecycle_CrashAndRecover_EventsInOrder()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        var events = new ConcurrentQueue<string>();
        rp.StateChanged += (from, to) => events.Enqueue($"state {from}->{to}");
        rp.CrashReported += reason => events.Enqueue("crash " + reason);
        rp.RecoveryFinished += mode => events.Enqueue("recovered " + mode);
        rp.ChannelAdded += c => events.Enqueue("added " + c.Name);
        rp.ChannelRemoved += c => events.Enqueue("removed " + c.Name);

        rp.Start();
        rig.EchoRoundTrip(1);
        rp.ReportCrash("test says so");
        rp.Recover();
        rig.EchoRoundTrip(2);
        rp.Stop();

        var all = events.ToArray();
        // Channel additions come from the dispatcher and may interleave with "Starting->Running";
        // everything else is serialized by the transitions.
        string[] transitions =
        [
            "state Offline->Starting", "state Starting->Running",
            "crash test says so", "state Running->Crashed",
            "state Crashed->Recovering", "state Recovering->Running", "recovered Boot",
            "state Running->Stopped",
        ];
        Assert.Equal(transitions, all.Where(e => !e.StartsWith("added", StringComparison.Ordinal) && !e.StartsWith("removed", StringComparison.Ordinal)));
        int crash = Array.IndexOf(all, "crash test says so");
        int crashed = Array.IndexOf(all, "state Running->Crashed");
        int recovering = Array.IndexOf(all, "state Crashed->Recovering");
        int stopped = Array.IndexOf(all, "state Running->Stopped");
        int[] added = all.Select((e, i) => (e, i)).Where(x => x.e == "added rpmsg-echo").Select(x => x.i).ToArray();
        int[] removed = all.Select((e, i) => (e, i)).Where(x => x.e == "removed rpmsg-echo").Select(x => x.i).ToArray();
        Assert.Equal(2, added.Length);
        Assert.Equal(2, removed.Length);
        // The crash is announced first, then the teardown removes the channel, then the state says so.
        Assert.True(added[0] < crash && crash < removed[0] && removed[0] < crashed, string.Join(" | ", all));
        Assert.True(recovering < added[1] && added[1] < removed[1] && removed[1] < stopped, string.Join(" | ", all));
    }

    [Fact]
    public void Transitions_InWrongState_ThrowNamingTheState()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;

        AssertIllegal(rp.Stop, "Offline");
        AssertIllegal(rp.Detach, "Offline");
        AssertIllegal(rp.Recover, "Offline");
        AssertIllegal(() => rp.ReportCrash("x"), "Offline");
        rp.Start();
        AssertIllegal(rp.Start, "Running");
        AssertIllegal(rp.Attach, "Running");
        AssertIllegal(rp.Recover, "Running");
        rp.Stop();
        AssertIllegal(rp.Stop, "Stopped");
        AssertIllegal(rp.Detach, "Stopped");
        AssertIllegal(() => rp.ReportCrash("x"), "Stopped");
        rp.Start();
        rp.Detach();
        AssertIllegal(rp.Start, "Detached");
        AssertIllegal(rp.Recover, "Detached");
        Assert.Equal(RemoteProcessorState.Detached, rp.State);
    }

    private static void AssertIllegal(Action transition, string state)
    {
        var e = Assert.Throws<InvalidOperationException>(transition);
        Assert.Contains("state " + state, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transition_FromEventHandler_Throws()
    {
        using var rig = SimulatedRemoteRig.Create();
        Exception? seen = null;
        rig.Processor.StateChanged += (_, to) =>
        {
            if (to == RemoteProcessorState.Running)
                seen = Record.Exception(rig.Processor.Stop);
        };

        rig.Processor.Start();

        Assert.IsType<InvalidOperationException>(seen);
        Assert.Contains("event handlers", seen!.Message, StringComparison.Ordinal);
        Assert.Equal(RemoteProcessorState.Running, rig.Processor.State);
    }

    [Fact]
    public void StatusByte_PeerWritesNeedsReset_CrashReported()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { MonitorInterval = TimeSpan.FromMilliseconds(2) });
        var rp = rig.Processor;
        var crash = CrashWatch.On(rp);
        rp.Start();
        rig.EchoRoundTrip(7);
        int statusOffset = rig.Platform.RpmsgVdev!.StatusByteOffset;

        using (var lease = rig.Region.Acquire())
            lease.WriteByteRelease(statusOffset, (byte)(lease.ReadByteAcquire(statusOffset) | (byte)VirtioStatus.NeedsReset));

        Assert.True(crash.Reported.Wait(Bound), "no crash reported from the status byte");
        SpinWait.SpinUntil(() => rp.State == RemoteProcessorState.Crashed, Bound);
        Assert.Equal(RemoteProcessorState.Crashed, rp.State);
        Assert.Contains("NEEDS_RESET", crash.Reason, StringComparison.Ordinal);
        Assert.Null(rp.Device);
        Assert.False(rig.Region.IsMapped);
        Assert.Equal(1, rp.CrashCount);
    }

    [Fact]
    public void Heartbeat_NeverSent_CrashReportedAfterTimeout()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions
        {
            MonitorInterval = TimeSpan.FromMilliseconds(5),
            HeartbeatTimeout = TimeSpan.FromMilliseconds(100),
        });
        var crash = CrashWatch.On(rig.Processor);

        rig.Processor.Start();

        Assert.True(crash.Reported.Wait(Bound), "no crash reported for the missing heartbeat");
        Assert.Contains("heartbeat", crash.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Watchdog_DoorbellRings_CrashReported()
    {
        var (watchdog, remoteWatchdog) = LoopbackDoorbell.CreatePair();
        using (watchdog)
        using (remoteWatchdog)
        {
            using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { MonitorInterval = TimeSpan.FromMilliseconds(2), WatchdogDoorbell = watchdog });
            var crash = CrashWatch.On(rig.Processor);
            rig.Processor.Start();
            rig.EchoRoundTrip(1);
            Assert.Equal(RemoteProcessorState.Running, rig.Processor.State);

            remoteWatchdog.Ring();

            Assert.True(crash.Reported.Wait(Bound), "no crash reported for the watchdog");
            Assert.Contains("watchdog", crash.Reason, StringComparison.Ordinal);
            Assert.Null(rig.Processor.LastCrashFault);
        }
    }

    [Fact]
    public void BrokenDevice_PeerCorruptsUsedIndex_CrashReported()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { MonitorInterval = TimeSpan.FromMilliseconds(2) });
        var crash = CrashWatch.On(rig.Processor);
        rig.Processor.Start();
        rig.EchoRoundTrip(1);
        // vring 0 at 0x4000 (num 256, align 0x1000): its used ring starts at +0x2000, used.idx at +2.
        const long usedIndex = 0x4000 + 0x2000 + 2;

        using (var lease = rig.Region.Acquire())
            lease.WriteUInt16(usedIndex, (ushort)(lease.ReadUInt16(usedIndex) + 300));

        // No traffic follows: the host's idle re-check finds the impossible index.
        Assert.True(crash.Reported.Wait(Bound), "no crash reported for the broken device");
        Assert.Contains("broke", crash.Reason, StringComparison.Ordinal);
        // The crash keeps the structured record, not only its text.
        var fault = rig.Processor.LastCrashFault;
        Assert.NotNull(fault);
        Assert.Equal((FaultLayer.Virtqueue, FaultRule.UsedIndexJump, "used.idx"), (fault.Layer, fault.Rule, fault.Field));
        Assert.Contains(fault.Message, rig.Processor.LastCrashReason, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokenDevice_OfANewerSessionWhileTheMonitorChecksTheOlder_CrashStillReported()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { MonitorInterval = TimeSpan.FromMilliseconds(1) });
        var rp = rig.Processor;
        rp.Start();
        rig.EchoRoundTrip(1);
        using var paused = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        int once = 0;
        rp.MonitorSessionRead = () =>
        {
            if (Interlocked.Exchange(ref once, 1) == 0)
            {
                paused.Set();
                resume.Wait(Bound);
            }
        };
        Assert.True(paused.Wait(Bound), "the monitor never checked the running session");
        // While the monitor holds the first session: an application crash and recovery, then the new device breaks.
        rp.ReportCrash("first");
        rp.Recover();
        var crash = CrashWatch.On(rp);
        rp.Device!.Break(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "test", 2, "broken by the test"));

        resume.Set();

        Assert.True(crash.Reported.Wait(Bound), $"{rp}: the second session's broken device was never reported");
        Assert.Contains("broken by the test", crash.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Stop_OldEndpoint_FailsWithUnavailableAndNeverTouchesNewMapping()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        var old = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
        int generation = rig.Region.Generation;

        rp.Stop();
        Assert.False(rig.Region.IsMapped);
        var e1 = Assert.Throws<RpmsgDeviceUnavailableException>(() => old.Send([1, 2, 3]));
        rp.Start();
        var e2 = Assert.Throws<RpmsgDeviceUnavailableException>(() => old.Send([1, 2, 3]));

        Assert.Contains("remote not running", e1.Message, StringComparison.Ordinal);
        Assert.Contains("remote not running", e2.Message, StringComparison.Ordinal);
        Assert.True(old.Endpoint.IsDestroyed);
        Assert.True(rig.Region.Generation > generation);
        Assert.NotSame(old.Device, rp.Device);
        rig.EchoRoundTrip(3);
        Assert.Equal(1, rig.Control.EchoedMessages);
    }

    [Fact]
    public void DetachThenAttach_RemoteStateIntact_MessagingResumes()
    {
        using var rig = SimulatedRemoteRig.Create();
        var rp = rig.Processor;
        rp.Start();
        for (int i = 0; i < 5; i++)
            rig.EchoRoundTrip(i);
        var addresses = rig.Control.ServiceAddresses.ToArray();
        int boots = rig.Control.BootCount;
        var before = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);

        rp.Detach();

        Assert.Equal(RemoteProcessorState.Detached, rp.State);
        Assert.Equal(RemoteControlState.Detached, rig.Control.State);
        Assert.False(rig.Region.IsMapped);
        Assert.Null(rp.Device);
        Assert.Equal(5, rig.Control.EchoedMessages);

        rp.Attach();

        Assert.Equal(RemoteProcessorState.Running, rp.State);
        rig.EchoRoundTrip(5);
        var after = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
        Assert.NotSame(before, after);
        Assert.Equal(before.RemoteAddress, after.RemoteAddress);
        Assert.Equal(addresses, rig.Control.ServiceAddresses);
        Assert.Equal(boots, rig.Control.BootCount);
        Assert.Equal(6, rig.Control.EchoedMessages);
    }

    [Fact]
    public void Attach_RemoteNotRunning_FailsAndReleasesEverything()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { BootTimeout = TimeSpan.FromMilliseconds(200) });

        // Nothing answers: the table never becomes valid within BootTimeout.
        Assert.Throws<TimeoutException>(rig.Processor.Attach);

        Assert.Equal(RemoteProcessorState.Offline, rig.Processor.State);
        Assert.Null(rig.Processor.Device);
        Assert.False(rig.Region.IsMapped);
    }

    [Fact]
    public void Start_WithFirmware_LoadsSegmentsAndUsesTheFirmwareTable()
    {
        byte[] code = Enumerable.Range(0, 64).Select(i => (byte)(0xA0 + i)).ToArray();
        var image = new ElfTestBuilder(is64: false)
            .AddSegment(0x0, ResourceTableBuilder.BuildOpenAmpLinux(), 88)
            .AddSegment(0x2000, code, 0x100)
            .AddSectionInSegment(ElfImage.ResourceTableSectionName, 0, 0, 88)
            .Build();
        string firmware = Path.Combine(Path.GetTempPath(), "vrpmsg-test-fw-" + Guid.NewGuid().ToString("N") + ".elf");
        File.WriteAllBytes(firmware, image.Bytes);
        try
        {
            using var rig = SimulatedRemoteRig.Create(remote: new InProcessSimulatedOptions { UseLoadedResourceTable = true }, firmwarePath: firmware);

            rig.Processor.Start();

            rig.EchoRoundTrip(9);
            using var lease = rig.Region.Acquire();
            Assert.Equal(code, VirtioRpmsg.Tests.DeviceMemory.SharedBytes.Read(lease, 0x2000, code.Length));
            Assert.All(VirtioRpmsg.Tests.DeviceMemory.SharedBytes.Read(lease, 0x2000 + code.Length, 0x100 - code.Length), b => Assert.Equal(0, b));
        }
        finally
        {
            File.Delete(firmware);
        }
    }
}
