using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// The sysfs backend's stop and attach against the kernel's rules for a remote it does not hold: Linux's state_store
/// stops only a "running" or "attached" remote (EINVAL from "detached"), and "start" attaches only a "detached" one
/// (from "offline" it boots the firmware file). <see cref="IRemoteProcessorControl.Stop"/> must still power a detached
/// remote off (RemoteProcessor's Detached -> Stopped), and <see cref="IRemoteProcessorControl.Attach"/> must never boot.
/// </summary>
public sealed class SysfsRemoteProcessorControlDetachedTests : IDisposable
{
    private const int EINVAL = 22;

    private readonly FakeRemoteprocSysfs _sysfs = new();

    public SysfsRemoteProcessorControlDetachedTests()
    {
        _sysfs.Add("remoteproc0", "m4", "offline", "rproc-m4-fw");
        _sysfs.Add("remoteproc2", "dsp", "detached", "dsp.elf", canDetach: true);
    }

    public void Dispose() => _sysfs.Dispose();

    private SysfsRemoteProcessorControl Control(string device) => new(device, _sysfs.Sysfs, _sysfs.Debugfs, _sysfs);

    [Fact]
    public void Stop_Detached_AttachesThenStops_RemoteOffline()
    {
        var control = Control("remoteproc2");

        control.Stop();

        Assert.Equal(["remoteproc2/state=start", "remoteproc2/state=stop"], _sysfs.Writes);
        Assert.Equal(RemoteControlState.Offline, control.State);
    }

    [Fact]
    public void Stop_DetachedAndDriverCannotStop_DetachedAgainAndSaysWhy()
    {
        _sysfs.CannotStopAttached("remoteproc2");
        var control = Control("remoteproc2");

        var e = Assert.Throws<RemoteProcessorControlException>(control.Stop);

        Assert.Equal(EINVAL, e.Errno);
        Assert.Equal(("state", "stop"), (e.Attribute, e.Command));
        Assert.Contains("'detached'", e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot stop a remote it attached to", e.Message, StringComparison.Ordinal);
        Assert.Contains("detached again", e.Message, StringComparison.Ordinal);
        // Left as it was found: running, let go of.
        Assert.Equal(["remoteproc2/state=start", "remoteproc2/state=stop", "remoteproc2/state=detach"], _sysfs.Writes);
        Assert.Equal(RemoteControlState.Detached, control.State);
    }

    [Fact]
    public void Stop_DetachedAndAttachRefused_SaysItWasNotStopped()
    {
        _sysfs.MakeReadOnly("remoteproc2");

        var e = Assert.Throws<RemoteProcessorControlException>(Control("remoteproc2").Stop);

        Assert.Equal(("state", "start", 13), (e.Attribute, e.Command, e.Errno));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
        Assert.Contains("'detached', which the kernel does not stop", e.Message, StringComparison.Ordinal);
        Assert.Contains("it was not stopped", e.Message, StringComparison.Ordinal);
        Assert.Equal("detached", _sysfs.State("remoteproc2"));
    }

    [Fact]
    public void Attach_Offline_RefusedWithoutBootingTheFirmware()
    {
        var control = Control("remoteproc0");

        var e = Assert.Throws<InvalidOperationException>(control.Attach);

        Assert.Contains("remoteproc0", e.Message, StringComparison.Ordinal);
        Assert.Contains("'offline'", e.Message, StringComparison.Ordinal);
        Assert.Contains("rproc-m4-fw", e.Message, StringComparison.Ordinal);
        Assert.Empty(_sysfs.Writes);
        Assert.Equal(RemoteControlState.Offline, control.State);
    }

    [Fact]
    public void RemoteProcessor_AttachDetachThenStop_Stopped_KernelRemoteOffline()
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(path), new PlatformOpenOptions { ReadResourceTable = false });
            using (var lease = platform.ResourceTableRegion!.Acquire())
                lease.WriteBytes(platform.ResourceTableOffset, ResourceTableBuilder.BuildOpenAmpLinux());
            using var processor = new RemoteProcessor(platform, Control("remoteproc2"), new RemoteProcessorOptions
            {
                BootTimeout = TimeSpan.FromMilliseconds(300),
                DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
            });
            processor.Attach();
            processor.Detach();
            Assert.Equal("detached", _sysfs.State("remoteproc2"));

            processor.Stop();

            Assert.Equal(RemoteProcessorState.Stopped, processor.State);
            Assert.Equal("offline", _sysfs.State("remoteproc2"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
