using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Start on a remote that is already up (booted by the kernel at boot, a bootloader, another process): the boot must
/// be refused before it touches anything. Otherwise the old table is invalidated (or a firmware loaded) under the
/// running remote, the control refuses the start (the kernel's EBUSY), and the failed start's clean-up powers off a
/// remote this host never booted.
/// </summary>
public sealed class RemoteProcessorStartOnRunningRemoteTests : IDisposable
{
    private readonly FakeRemoteprocSysfs _sysfs = new();
    private readonly string _path = SimulatedRemoteRig.NewShmPath();

    public RemoteProcessorStartOnRunningRemoteTests() => _sysfs.Add("remoteproc1", "r5f", "running", "r5.elf");

    public void Dispose()
    {
        _sysfs.Dispose();
        File.Delete(_path);
    }

    [Fact]
    public void Start_SysfsRemoteAlreadyRunning_RefusedAndLeftRunning()
    {
        using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(_path), new PlatformOpenOptions { ReadResourceTable = false });
        var table = ResourceTableBuilder.BuildOpenAmpLinux();
        using (var lease = platform.ResourceTableRegion!.Acquire())
            lease.WriteBytes(platform.ResourceTableOffset, table);
        using var processor = new RemoteProcessor(platform, new SysfsRemoteProcessorControl("remoteproc1", _sysfs.Sysfs, _sysfs.Debugfs, _sysfs),
            new RemoteProcessorOptions { BootTimeout = TimeSpan.FromMilliseconds(300), DoorbellFactory = () => LoopbackDoorbell.CreatePair().First });

        var e = Assert.Throws<InvalidOperationException>(processor.Start);

        Assert.Contains("Running", e.Message, StringComparison.Ordinal);
        Assert.Contains("Attach", e.Message, StringComparison.Ordinal);
        Assert.Equal("running", _sysfs.State("remoteproc1"));
        Assert.DoesNotContain("remoteproc1/state=stop", _sysfs.Writes);
        Assert.Equal(RemoteProcessorState.Offline, processor.State);
        // The running remote's table is as it was (a boot invalidates its version word first).
        using var check = platform.ResourceTableRegion!.Acquire();
        Assert.Equal(table, VirtioRpmsg.Tests.DeviceMemory.SharedBytes.Read(check, platform.ResourceTableOffset, table.Length));
    }

    [Fact]
    public void Start_SimulatedRemoteAlreadyRunning_RefusedThenAttachEchoes()
    {
        using var rig = SimulatedRemoteRig.Create(new RemoteProcessorOptions { BootTimeout = TimeSpan.FromSeconds(2) });
        rig.Control.CreateHostDoorbell().Dispose();
        rig.Control.Start(); // booted by someone else
        int boots = rig.Control.BootCount;

        Assert.Throws<InvalidOperationException>(rig.Processor.Start);

        Assert.Equal(RemoteControlState.Running, rig.Control.State);
        Assert.Equal(boots, rig.Control.BootCount);
        rig.Processor.Attach();
        rig.EchoRoundTrip(7);
    }
}
