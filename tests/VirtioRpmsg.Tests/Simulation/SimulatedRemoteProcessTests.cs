using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Simulation;

/// <summary>
/// <see cref="RemoteProcessor"/> over <see cref="SimulatedRemoteProcess"/>: the remote is a real child
/// process on a /dev/shm file. Crashes are real (SIGKILL, or the remote's own fault injection) and are
/// detected by the processor's monitor through the control's crash watchdog. Runs alone (non-parallel
/// collection): it counts descriptors and it starts many processes.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class SimulatedRemoteProcessTests
{
    private static readonly TimeSpan Bound = SimulatedProcessRig.Bound;

    [Fact]
    public void Start_ChildProcess_ChannelAppearsAndEchoes()
    {
        using var rig = SimulatedProcessRig.Create();
        rig.Processor.Start();

        rig.Echo(1);
        Assert.Equal(RemoteProcessorState.Running, rig.Processor.State);
        Assert.Equal(RemoteControlState.Running, rig.Control.State);
        int pid = rig.Control.ProcessId;
        Assert.Equal([pid], rig.LiveRemotes());
        Assert.Equal(Environment.ProcessId, SimulatedProcessRig.ParentOf(pid));
        Assert.True(rig.Control.RemoteEndpoints.ContainsKey("echo"));
    }

    [Theory]
    [InlineData(RemoteRecoveryMode.Boot, true, SimulatedCrashMethod.Kill)]
    [InlineData(RemoteRecoveryMode.Attach, true, SimulatedCrashMethod.Kill)]
    [InlineData(RemoteRecoveryMode.Boot, false, SimulatedCrashMethod.Kill)]
    [InlineData(RemoteRecoveryMode.Attach, false, SimulatedCrashMethod.FaultCommand)]
    public void InjectCrash_ChildDies_MonitorReportsAndRecoveryEchoesAgain(RemoteRecoveryMode mode, bool autoRecover, SimulatedCrashMethod method)
    {
        using var rig = SimulatedProcessRig.Create(mode, autoRecover, method);
        var rp = rig.Processor;
        var crash = CrashWatch.On(rp);
        using var recovered = new ManualResetEventSlim();
        rp.RecoveryFinished += finished =>
        {
            Assert.Equal(mode, finished);
            recovered.Set();
        };
        rp.Start();
        rig.Echo(1);
        int oldPid = rig.Control.ProcessId;

        rig.Control.InjectCrash();

        Assert.True(crash.Reported.Wait(Bound), "the crash was not detected");
        Assert.NotNull(crash.Reason);
        // A kill is seen through the exit watchdog; the fault command may be seen first through NEEDS_RESET.
        if (method == SimulatedCrashMethod.Kill)
            Assert.Contains("watchdog", crash.Reason);
        else
            Assert.True(crash.Reason.Contains("watchdog", StringComparison.Ordinal) || crash.Reason.Contains("NEEDS_RESET", StringComparison.Ordinal), crash.Reason);
        if (!autoRecover)
        {
            Assert.True(SpinWait.SpinUntil(() => rp.State == RemoteProcessorState.Crashed, Bound), $"state {rp.State}");
            rp.Recover();
        }
        Assert.True(recovered.Wait(Bound), $"no recovery; state {rp.State}");
        rig.Echo(2);
        Assert.Equal(1, rp.CrashCount);
        Assert.NotEqual(oldPid, rig.Control.ProcessId);
        Assert.Equal([rig.Control.ProcessId], rig.LiveRemotes());
    }

    [Fact]
    public void InjectCrash_TwentyKillCycles_EchoEveryTimeNoLeakedChildrenOrDescriptors()
    {
        const int cycles = 20;
        using var rig = SimulatedProcessRig.Create(RemoteRecoveryMode.Boot, autoRecover: true);
        var rp = rig.Processor;
        using var recovered = new SemaphoreSlim(0);
        rp.RecoveryFinished += _ => recovered.Release();
        rp.Start();
        rig.Echo(-1);
        // One warm-up cycle so that lazily created runtime descriptors are counted in the baseline.
        Cycle(rig, recovered, 0);
        int baseline = Memory.ProcessResources.OpenDescriptors();
        var pids = new List<int>();

        for (int i = 1; i <= cycles; i++)
        {
            pids.Add(rig.Control.ProcessId);
            Cycle(rig, recovered, i);
        }

        Assert.Equal(cycles + 1, rp.CrashCount);
        Assert.Equal(cycles + 1, rp.RecoveryCount);
        Assert.Equal([rig.Control.ProcessId], rig.LiveRemotes());
        Assert.DoesNotContain(rig.Control.ProcessId, pids);
        int after = Memory.ProcessResources.OpenDescriptors();
        // One leaked pipe, socket or eventfd per cycle would show as 20 or more.
        Assert.True(after <= baseline + 6, $"descriptors: {baseline} before, {after} after {cycles} cycles");
    }

    private static void Cycle(SimulatedProcessRig rig, SemaphoreSlim recovered, int i)
    {
        rig.Control.InjectCrash();
        Assert.True(recovered.Wait(Bound), $"cycle {i}: no recovery; state {rig.Processor.State}, last crash {rig.Processor.LastCrashReason}");
        rig.Echo(i);
    }

    [Fact]
    public void ReportCrash_ChildStillAlive_BootRecoveryReplacesIt()
    {
        using var rig = SimulatedProcessRig.Create(RemoteRecoveryMode.Boot);
        var rp = rig.Processor;
        rp.Start();
        rig.Echo(1);
        int oldPid = rig.Control.ProcessId;

        rp.ReportCrash("the application says so");
        Assert.Equal(RemoteProcessorState.Crashed, rp.State);
        rp.Recover();

        rig.Echo(2);
        Assert.NotEqual(oldPid, rig.Control.ProcessId);
        Assert.Equal([rig.Control.ProcessId], rig.LiveRemotes());
        Assert.Equal(1, rp.CrashCount);
    }

    [Fact]
    public void Constructor_MemfdRegion_ThrowsNamingRegions()
    {
        var simulated = SimulatedPlatform.Description("/dev/shm/vrpmsg-test-unused.shm");
        var memfd = simulated with { Regions = [simulated.Regions[0] with { Kind = PlatformRegionKind.Memfd, Path = null }] };

        var e = Assert.Throws<PlatformDescriptionException>(() => new SimulatedRemoteProcess(memfd));
        Assert.Contains("regions", e.Message);
    }

    [Fact]
    public void Constructor_OtherVdevLayout_ThrowsNamingVdev()
    {
        var simulated = SimulatedPlatform.Description("/dev/shm/vrpmsg-test-unused.shm");
        var other = simulated with { Vdev = simulated.Vdev! with { BufferCount = 64 } };

        var e = Assert.Throws<PlatformDescriptionException>(() => new SimulatedRemoteProcess(other));
        Assert.Contains("vdev", e.Message);
    }

    [Fact]
    public void Start_WithoutHostDoorbell_ThrowsAndSpawnsNothing()
    {
        using var rig = SimulatedProcessRig.Create();

        var e = Assert.Throws<InvalidOperationException>(() => rig.Control.Start());

        Assert.Contains("CreateHostDoorbell", e.Message);
        Assert.Empty(rig.LiveRemotes());
        Assert.Equal(RemoteControlState.Offline, rig.Control.State);
    }

    [Fact]
    public void Stop_Running_LeavesNoChild()
    {
        using var rig = SimulatedProcessRig.Create();
        rig.Processor.Start();
        rig.Echo(1);
        int pid = rig.Control.ProcessId;

        rig.Processor.Stop();

        Assert.Equal(RemoteProcessorState.Stopped, rig.Processor.State);
        Assert.Equal(RemoteControlState.Offline, rig.Control.State);
        Assert.Empty(rig.LiveRemotes());
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still exists");
        Assert.Equal(0, rig.Processor.CrashCount);
    }

    [Fact]
    public void DetachThenAttach_SameChild_MessagingResumesAtSameAddresses()
    {
        using var rig = SimulatedProcessRig.Create();
        var rp = rig.Processor;
        rp.Start();
        rig.Echo(1);
        int pid = rig.Control.ProcessId;
        uint echoAddress = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound).RemoteAddress;

        rp.Detach();

        Assert.Equal(RemoteProcessorState.Detached, rp.State);
        Assert.Equal(RemoteControlState.Detached, rig.Control.State);
        Assert.Equal([pid], rig.LiveRemotes());

        rp.Attach();

        rig.Echo(2);
        Assert.Equal(pid, rig.Control.ProcessId);
        Assert.Equal(echoAddress, rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound).RemoteAddress);
        Assert.Equal(0, rp.CrashCount);
    }

    [Fact]
    public void Dispose_DetachedChild_ChildIsKilled()
    {
        List<int> remotes;
        var rig = SimulatedProcessRig.Create();
        try
        {
            rig.Processor.Start();
            rig.Echo(1);
            rig.Processor.Detach();
            remotes = [.. rig.LiveRemotes()];
            Assert.Single(remotes);
        }
        finally
        {
            rig.Dispose();
        }

        Assert.Empty(rig.LiveRemotes());
        Assert.False(Directory.Exists($"/proc/{remotes[0]}"));
    }
}
