using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// The sysfs backend and a remote the kernel holds as "crashed" (its own recovery disabled). Linux keeps it until it is
/// recovered: "stop" is refused (rproc_shutdown: EINVAL unless running or attached), "start" does nothing (rproc_boot:
/// already powered), and "recover" to <c>recovery</c> boots the firmware again (rproc_boot_recovery) or, on a platform
/// with RPROC_FEAT_ATTACH_ON_RECOVERY, re-attaches. <see cref="IRemoteProcessorControl.Stop"/> leaves it so (recovery,
/// the only way out, boots, and a stop or a dispose must not boot what crashed); a start recovers it, booting once;
/// <see cref="IRemoteProcessorControl.Attach"/> must never boot it. State text the kernel never writes is refused before anything is written.
/// </summary>
public sealed class SysfsRemoteProcessorControlCrashedTests : IDisposable
{
    private readonly FakeRemoteprocSysfs _sysfs = new();

    public SysfsRemoteProcessorControlCrashedTests()
    {
        _sysfs.Add("remoteproc1", "r5f", "running", "r5.elf", canDetach: false, "other.elf");
        _sysfs.Add("remoteproc2", "dsp", "detached", "dsp.elf", canDetach: true, "dsp2.elf");
    }

    public void Dispose() => _sysfs.Dispose();

    private SysfsRemoteProcessorControl Control(string device) => new(device, _sysfs.Sysfs, _sysfs.Debugfs, _sysfs);

    private SysfsRemoteProcessorControl Crashed(string device)
    {
        var control = Control(device);
        if (control.State == RemoteControlState.Detached)
            control.Attach();
        control.RecoveryEnabled = false;
        _sysfs.Crash(device);
        Assert.Equal("crashed", _sysfs.State(device));
        _sysfs.Writes.Clear();
        return control;
    }

    [Fact]
    public void Stop_Crashed_WritesNothing_BootsNothing_FirmwareStaysLockedUntilRecovered()
    {
        var control = Crashed("remoteproc1");
        int boots = 0;
        _sysfs.Booted += _ => boots++;

        control.Stop();

        // Recovery is the only way out of "crashed", and it boots: a stop must not boot what crashed.
        Assert.Empty(_sysfs.Writes);
        Assert.Equal(0, boots);
        Assert.Equal(RemoteControlState.Crashed, control.State);
        Assert.Throws<RemoteProcessorControlException>(() => control.FirmwareName = "other.elf"); // EBUSY unless offline
        _sysfs.Writes.Clear();
        control.Start();
        Assert.Equal(RemoteControlState.Running, control.State);
        Assert.Equal(1, boots);
        Assert.Equal(["remoteproc1/recovery=recover"], _sysfs.Writes);
    }

    [Fact]
    public void Start_CrashedAndRecoveryLeavesItCrashed_SaysSoNamingTheFile()
    {
        _sysfs.RecoveryCannotStop("remoteproc1");
        var control = Crashed("remoteproc1");

        var e = Assert.Throws<RemoteProcessorControlException>(control.Start);

        Assert.Equal(("recovery", "recover", "crashed", 0), (e.Attribute, e.Command, e.State, e.Errno));
        Assert.Contains(Path.Combine(_sysfs.Sysfs, "remoteproc1", "recovery"), e.Message, StringComparison.Ordinal);
        Assert.Contains("not started", e.Message, StringComparison.Ordinal);
        Assert.Equal(["remoteproc1/recovery=recover"], _sysfs.Writes);
    }

    [Fact]
    public void Start_CrashedAndRecoveryCannotLoadTheFirmware_StartsItFromOffline()
    {
        var control = Crashed("remoteproc1");
        _sysfs.Uninstall("remoteproc1", "r5.elf");

        // The recovery stopped it and could not boot it (offline); the start then asks for the boot itself, which the
        // kernel takes without booting (the crashed boot's power reference is still counted): refused, saying so.
        var e = Assert.Throws<RemoteProcessorControlException>(control.Start);
        Assert.Equal(("state", "start", "offline", 0), (e.Attribute, e.Command, e.State, e.Errno));

        Assert.Equal(["remoteproc1/recovery=recover", "remoteproc1/state=start"], _sysfs.Writes);
    }

    [Fact]
    public void Start_CrashedAttachOnRecovery_BootsTheFirmware()
    {
        // Recovery alone would only re-attach: the start would find no fresh firmware (RemoteProcessor cleared the table).
        _sysfs.AttachOnRecovery("remoteproc2");
        var control = Crashed("remoteproc2");
        var booted = new List<string>();
        _sysfs.Booted += booted.Add;

        control.Start();

        Assert.Equal(["remoteproc2"], booted);
        Assert.Equal(RemoteControlState.Running, control.State);
        Assert.Equal(["remoteproc2/recovery=recover", "remoteproc2/state=stop", "remoteproc2/state=start"], _sysfs.Writes);
    }

    [Fact]
    public void Attach_Crashed_RefusedWithoutWritingOrBooting()
    {
        var control = Crashed("remoteproc2");
        int boots = 0;
        _sysfs.Booted += _ => boots++;

        var e = Assert.Throws<InvalidOperationException>(control.Attach);

        Assert.Contains("'crashed'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_sysfs.Sysfs, "remoteproc2", "state"), e.Message, StringComparison.Ordinal);
        Assert.Contains("boot", e.Message, StringComparison.Ordinal);
        Assert.Empty(_sysfs.Writes);
        Assert.Equal(0, boots);
        Assert.Equal("crashed", _sysfs.State("remoteproc2"));
    }

    [Theory]
    [InlineData("booting-sideways")]
    [InlineData("running\u001b[2Jrm -rf")]
    [InlineData("")]
    public void StartStopAttach_StateNotAKernelWord_RefusedNamingFileAndValue(string text)
    {
        var control = Control("remoteproc1");
        _sysfs.SetStateText("remoteproc1", text);
        string file = Path.Combine(_sysfs.Sysfs, "remoteproc1", "state");

        foreach (var action in new Action[] { control.Start, control.Stop, control.Attach })
        {
            var e = Assert.Throws<SysfsAttributeValueException>(action);
            Assert.Equal(("state", file, text), (e.Attribute, e.Path, e.Value));
            Assert.Contains(file, e.Message, StringComparison.Ordinal);
            Assert.Contains("offline", e.Message, StringComparison.Ordinal); // what it should have said
            Assert.DoesNotContain("\u001b", e.Message, StringComparison.Ordinal);
        }
        Assert.Empty(_sysfs.Writes);
    }

    [Fact]
    public void RecoveryAndCoredump_UnknownWord_NameFileAndValue()
    {
        var control = Control("remoteproc1");
        string recovery = Path.Combine(_sysfs.Sysfs, "remoteproc1", "recovery");
        File.WriteAllText(recovery, "maybe\n");

        var e = Assert.Throws<SysfsAttributeValueException>(() => control.RecoveryEnabled);

        Assert.Equal(("recovery", "maybe"), (e.Attribute, e.Value));
        Assert.Contains(recovery, e.Message, StringComparison.Ordinal);
        Assert.Contains("\"maybe\"", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A processor attached to the fake "dsp" remote; every firmware boot of the kernel model writes the remote's table.</summary>
    private void WithProcessor(Action<RemoteProcessor, SysfsRemoteProcessorControl> body, RemoteRecoveryMode mode = RemoteRecoveryMode.Boot)
    {
        string path = SimulatedRemoteRig.NewShmPath();
        try
        {
            using var platform = PlatformResources.Open(SimulatedRemoteRig.Description(path), new PlatformOpenOptions { ReadResourceTable = false });
            // The remote's (and the kernel loader's) own view of the memory, mapped whatever the host did with its mapping.
            using var remoteView = PlatformResources.Open(SimulatedRemoteRig.Description(path), new PlatformOpenOptions { ReadResourceTable = false });
            byte[] table = ResourceTableBuilder.BuildOpenAmpLinux();
            void WriteTable()
            {
                using var lease = remoteView.ResourceTableRegion!.Acquire();
                lease.WriteBytes(remoteView.ResourceTableOffset, table);
            }
            WriteTable();
            var control = Control("remoteproc2");
            using var processor = new RemoteProcessor(platform, control, new RemoteProcessorOptions
            {
                BootTimeout = TimeSpan.FromSeconds(2),
                DoorbellFactory = () => LoopbackDoorbell.CreatePair().First,
                RecoveryMode = mode,
            });
            _sysfs.Booted += _ => WriteTable();
            processor.Attach();
            control.RecoveryEnabled = false;
            body(processor, control);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RemoteProcessor_StopFromCrashed_KernelRemoteOfflineThenStartBootsNewFirmware() => WithProcessor((processor, control) =>
    {
        _sysfs.Crash("remoteproc2");
        processor.ReportCrash("the kernel says crashed");
        Assert.Equal(RemoteProcessorState.Crashed, processor.State);

        int boots = 0;
        _sysfs.Booted += _ => boots++;
        _sysfs.Writes.Clear();

        processor.Stop();

        Assert.Equal(RemoteProcessorState.Stopped, processor.State);
        Assert.Equal("crashed", _sysfs.State("remoteproc2")); // as the kernel holds it: only recovery leaves it, and it boots
        Assert.Equal(0, boots);
        processor.Start();
        Assert.Equal(RemoteProcessorState.Running, processor.State);
        Assert.Equal("running", _sysfs.State("remoteproc2"));
        Assert.Equal(1, boots);
        Assert.Equal(["remoteproc2/recovery=recover"], _sysfs.Writes);
    });

    [Fact]
    public void RemoteProcessor_DisposeWhileCrashed_BootsNothing()
    {
        int boots = 0;
        _sysfs.Booted += _ => boots++;
        WithProcessor((processor, _) =>
        {
            _sysfs.Crash("remoteproc2");
            processor.ReportCrash("crash");
            _sysfs.Writes.Clear();
            boots = 0;

            processor.Dispose();

            Assert.Equal(0, boots);
            Assert.Empty(_sysfs.Writes);
            Assert.Equal("crashed", _sysfs.State("remoteproc2"));
        });
    }

    [Fact]
    public void RemoteProcessor_BootRecoveryOfAKernelCrashedRemote_WorksEveryTime() => WithProcessor((processor, _) =>
    {
        for (int round = 1; round <= 3; round++)
        {
            _sysfs.Crash("remoteproc2");
            processor.ReportCrash($"crash {round}");
            _sysfs.Writes.Clear();

            processor.Recover();

            Assert.Equal(RemoteProcessorState.Running, processor.State);
            Assert.Equal(round, processor.RecoveryCount);
            Assert.Equal("running", _sysfs.State("remoteproc2"));
            // Never "start" while crashed (the kernel only takes a power reference, and the next "stop" spends it).
            // One boot per recovery: the kernel's recovery is the start (a stop of the crashed remote writes nothing).
            Assert.Equal(["remoteproc2/recovery=recover"], _sysfs.Writes);
        }
    });

    [Fact]
    public void RemoteProcessor_AttachRecoveryOfAKernelCrashedRemote_FailsWithoutBooting()
    {
        int boots = 0;
        _sysfs.Booted += _ => boots++;
        WithProcessor((processor, _) =>
        {
            _sysfs.Crash("remoteproc2");
            processor.ReportCrash("crash");
            _sysfs.Writes.Clear();
            boots = 0;

            Assert.Throws<InvalidOperationException>(processor.Recover);

            Assert.Equal(RemoteProcessorState.Crashed, processor.State);
            Assert.Equal(0, boots);
            Assert.Empty(_sysfs.Writes);
        }, RemoteRecoveryMode.Attach);
    }
}
