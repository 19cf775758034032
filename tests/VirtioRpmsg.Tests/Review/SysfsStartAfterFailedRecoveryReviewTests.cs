using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Lifecycle;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A boot recovery (rproc_boot_recovery) that stopped the crashed remote but could not boot it again (request_firmware
/// failed) leaves it "offline" with the crashed boot's power reference still counted (rproc->power is 1): the kernel's
/// "start" then only takes another reference and returns 0 without booting, and "stop" is refused (not running). A
/// <see cref="SysfsRemoteProcessorControl.Start"/> that wrote "start" and returned left the remote offline while its
/// caller believed it booted (RemoteProcessor then timed out waiting for a table that never came).
/// </summary>
public sealed class SysfsStartAfterFailedRecoveryReviewTests : IDisposable
{
    private readonly FakeRemoteprocSysfs _sysfs = new();

    public SysfsStartAfterFailedRecoveryReviewTests()
    {
        _sysfs.Add("remoteproc1", "r5f", "running", "r5.elf");
        _sysfs.Add("remoteproc2", "dsp", "detached", "dsp.elf", canDetach: true);
    }

    public void Dispose() => _sysfs.Dispose();

    private SysfsRemoteProcessorControl Control(string device) => new(device, _sysfs.Sysfs, _sysfs.Debugfs, _sysfs);

    [Fact]
    public void Start_CrashedAndRecoveryCannotBootIt_RefusedSayingTheKernelStillCountsThePowerReference()
    {
        var control = Control("remoteproc1");
        control.RecoveryEnabled = false;
        _sysfs.Crash("remoteproc1");
        _sysfs.Uninstall("remoteproc1", "r5.elf");

        var e = Assert.Throws<RemoteProcessorControlException>(control.Start);

        Assert.Equal(("state", "start", "offline", 0), (e.Attribute, e.Command, e.State, e.Errno));
        Assert.Contains("power reference", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_sysfs.Sysfs, "remoteproc1", "state"), e.Message, StringComparison.Ordinal);
        Assert.Equal(RemoteControlState.Offline, control.State);
    }

    [Fact]
    public void Start_OfflineWhileTheKernelStillCountsAPowerReference_DoesNotReturnAsIfBooted()
    {
        // The kernel's own recovery ran and could not load the firmware; the file is back before the next start.
        var control = Control("remoteproc1");
        _sysfs.Uninstall("remoteproc1", "r5.elf");
        _sysfs.Crash("remoteproc1");
        Assert.Equal(RemoteControlState.Offline, control.State);
        _sysfs.Install("remoteproc1", "r5.elf");
        _sysfs.Writes.Clear();

        var e = Assert.Throws<RemoteProcessorControlException>(control.Start);

        Assert.Equal(["remoteproc1/state=start"], _sysfs.Writes);
        Assert.Equal(("state", "start", "offline"), (e.Attribute, e.Command, e.State));
        Assert.Equal("offline", _sysfs.State("remoteproc1"));
    }

    [Fact]
    public void Start_FromOfflineThatBoots_StillSucceeds()
    {
        var control = Control("remoteproc1");
        control.Stop();

        control.Start();

        Assert.Equal(RemoteControlState.Running, control.State);
        Assert.Equal(1, _sysfs.Power("remoteproc1"));
    }

    [Fact]
    public void RemoteProcessorStart_AfterARecoveryThatCouldNotBoot_FailsWithTheControlsReasonNotATimeout()
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(path), new PlatformOpenOptions { ReadResourceTable = false });
            var control = Control("remoteproc2");
            using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                BootTimeout = TimeSpan.FromSeconds(1),
                DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
            });
            using (var lease = platform.ResourceTableRegion!.Acquire())
                lease.WriteBytes(platform.ResourceTableOffset, ResourceTableBuilder.BuildOpenAmpLinux());
            processor.Attach();
            control.RecoveryEnabled = false;
            _sysfs.Crash("remoteproc2");
            processor.ReportCrash("the kernel says crashed");
            processor.Stop(); // writes nothing: the kernel keeps it crashed
            _sysfs.Uninstall("remoteproc2", "dsp.elf");

            var e = Assert.Throws<RemoteProcessorControlException>(processor.Start);

            Assert.Contains("power reference", e.Message, StringComparison.Ordinal);
            Assert.Equal(RemoteProcessorState.Stopped, processor.State);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
