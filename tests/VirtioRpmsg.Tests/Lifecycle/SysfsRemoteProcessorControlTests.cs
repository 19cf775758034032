using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The sysfs backend against a fake remoteproc tree whose writes are answered by a model of the kernel's rules.</summary>
public sealed class SysfsRemoteProcessorControlTests : IDisposable
{
    private const int EACCES = 13, EBUSY = 16, EINVAL = 22, ENOENT = 2, EISDIR = 21;

    private readonly FakeRemoteprocSysfs _sysfs = new();

    public SysfsRemoteProcessorControlTests()
    {
        _sysfs.Add("remoteproc0", "m4", "offline", "rproc-m4-fw", canDetach: false, "other.elf");
        _sysfs.Add("remoteproc1", "r5f", "running", "r5.elf");
        _sysfs.Add("remoteproc2", "dsp", "detached", "dsp.elf", canDetach: true);
    }

    public void Dispose() => _sysfs.Dispose();

    private SysfsRemoteProcessorControl Control(string device) => new(device, _sysfs.Sysfs, _sysfs.Debugfs, _sysfs);

    private static RemoteProcessorControlException Refused(Action action, int errno, params string[] inMessage)
    {
        var e = Assert.Throws<RemoteProcessorControlException>(action);
        Assert.Equal(errno, e.Errno);
        foreach (string text in inMessage)
            Assert.Contains(text, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void Attributes_FakeTree_ReadTrimmed()
    {
        var control = Control("remoteproc0");

        Assert.Equal("m4", control.Name);
        Assert.Equal("rproc-m4-fw", control.FirmwareName);
        Assert.Equal(RemoteControlState.Offline, control.State);
        Assert.Equal("offline", control.ReadStateString());
        Assert.True(control.RecoveryEnabled);
        Assert.Equal(RemoteCoredumpMode.Disabled, control.Coredump);
    }

    [Theory]
    [InlineData("offline", RemoteControlState.Offline)]
    [InlineData("suspended", RemoteControlState.Suspended)]
    [InlineData("running", RemoteControlState.Running)]
    [InlineData("crashed", RemoteControlState.Crashed)]
    [InlineData("deleted", RemoteControlState.Deleted)]
    [InlineData("attached", RemoteControlState.Attached)]
    [InlineData("detached", RemoteControlState.Detached)]
    [InlineData("invalid", RemoteControlState.Invalid)]
    [InlineData("booting-sideways", RemoteControlState.Unknown)]
    public void ParseState_EachKernelString(string text, RemoteControlState expected) =>
        Assert.Equal(expected, SysfsRemoteProcessorControl.ParseState(text + "\n"));

    [Fact]
    public void Start_Offline_KernelBootsTheFirmware()
    {
        var control = Control("remoteproc0");

        control.Start();

        Assert.Equal(["remoteproc0/state=start"], _sysfs.Writes);
        Assert.Equal(RemoteControlState.Running, control.State);
    }

    [Fact]
    public void Start_AlreadyRunning_EbusyNamesStateAndFile()
    {
        var e = Refused(Control("remoteproc1").Start, EBUSY, "EBUSY", "already running", "'running'", Path.Combine(_sysfs.Sysfs, "remoteproc1", "state"));

        Assert.Equal(("state", "start", "running"), (e.Attribute, e.Command, e.State));
    }

    [Fact]
    public void Start_FirmwareNotInstalled_EnoentSaysFirmware()
    {
        var control = Control("remoteproc0");
        control.FirmwareName = "missing.elf";

        Refused(control.Start, ENOENT, "firmware", "/lib/firmware");
        Assert.Equal("offline", _sysfs.State("remoteproc0"));
    }

    [Fact]
    public void Start_Crashed_RecoversThroughRecoveryAttribute()
    {
        var control = Control("remoteproc1");
        control.RecoveryEnabled = false;
        _sysfs.Crash("remoteproc1");
        Assert.Equal(RemoteControlState.Crashed, control.State);

        control.Start();

        Assert.Equal("remoteproc1/recovery=recover", _sysfs.Writes[^1]);
        Assert.Equal(RemoteControlState.Running, control.State);
    }

    [Fact]
    public void Stop_Running_GoesOffline()
    {
        var control = Control("remoteproc1");

        control.Stop();

        Assert.Equal(["remoteproc1/state=stop"], _sysfs.Writes);
        Assert.Equal(RemoteControlState.Offline, control.State);
    }

    [Fact]
    public void Stop_Offline_WritesNothing()
    {
        Control("remoteproc0").Stop();

        Assert.Empty(_sysfs.Writes);
        Assert.Equal("offline", _sysfs.State("remoteproc0"));
    }

    [Fact]
    public void AttachThenDetach_DetachedRemote_RoundTrip()
    {
        var control = Control("remoteproc2");

        control.Attach();
        Assert.Equal(RemoteControlState.Attached, control.State);
        Assert.Equal("unknown", control.FirmwareName); // the kernel does not know what someone else booted
        control.Detach();

        Assert.Equal(["remoteproc2/state=start", "remoteproc2/state=detach"], _sysfs.Writes);
        Assert.Equal(RemoteControlState.Detached, control.State);
    }

    [Fact]
    public void Attach_AlreadyAttached_Ebusy()
    {
        var control = Control("remoteproc2");
        control.Attach();

        Refused(control.Attach, EBUSY, "already running", "'attached'");
    }

    [Fact]
    public void Detach_RemoteThisKernelBooted_Einval() =>
        Refused(Control("remoteproc1").Detach, EINVAL, "only a remote it attached to", "'running'");

    [Fact]
    public void FirmwareName_Offline_Set()
    {
        var control = Control("remoteproc0");

        control.FirmwareName = "other.elf";

        Assert.Equal("other.elf\n", _sysfs.File("remoteproc0", "firmware"));
    }

    [Fact]
    public void FirmwareName_WhileRunning_EbusySaysOffline()
    {
        var control = Control("remoteproc1");

        var e = Refused(() => control.FirmwareName = "other.elf", EBUSY, "only while the remote is offline", "'running'");

        Assert.Equal("firmware", e.Attribute);
        Assert.Equal("r5.elf", control.FirmwareName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.elf\nb.elf")]
    [InlineData("a\0.elf")]
    public void FirmwareName_EmptyOrWithNewline_RejectedBeforeWriting(string name)
    {
        var control = Control("remoteproc0");

        Assert.ThrowsAny<ArgumentException>(() => control.FirmwareName = name);

        Assert.Empty(_sysfs.Writes);
    }

    [Fact]
    public void Recovery_DisabledThenEnabledWhileCrashed_KernelRecovers()
    {
        var control = Control("remoteproc1");
        control.RecoveryEnabled = false;
        Assert.Equal("disabled\n", _sysfs.File("remoteproc1", "recovery"));
        _sysfs.Crash("remoteproc1");

        control.RecoveryEnabled = true;

        Assert.Equal(RemoteControlState.Running, control.State);
        Assert.True(control.RecoveryEnabled);
    }

    [Fact]
    public void Recover_NotCrashed_ChangesNothing()
    {
        var control = Control("remoteproc0");

        control.Recover();

        Assert.Equal(RemoteControlState.Offline, control.State);
        Assert.Equal(["remoteproc0/recovery=recover"], _sysfs.Writes);
    }

    [Fact]
    public void Coredump_SetEachMode_WrittenAsTheKernelWord()
    {
        var control = Control("remoteproc0");

        control.Coredump = RemoteCoredumpMode.Inline;
        Assert.Equal(RemoteCoredumpMode.Inline, control.Coredump);
        control.Coredump = RemoteCoredumpMode.Enabled;

        Assert.Equal(["remoteproc0/coredump=inline", "remoteproc0/coredump=enabled"], _sysfs.Writes);
    }

    [Fact]
    public void Coredump_WhileCrashed_Ebusy()
    {
        var control = Control("remoteproc1");
        control.RecoveryEnabled = false;
        _sysfs.Crash("remoteproc1");

        Refused(() => control.Coredump = RemoteCoredumpMode.Enabled, EBUSY, "crashed");
    }

    [Fact]
    public void ReadOnlyPlatform_EveryWriteEaccesMentionsUdevAndRoot()
    {
        _sysfs.MakeReadOnly("remoteproc0");
        var control = Control("remoteproc0");

        Refused(control.Start, EACCES, "permission denied", "root", "udev", "sysfs_read_only");
        Refused(() => control.FirmwareName = "other.elf", EACCES, "permission denied");
    }

    [Fact]
    public void OlderKernelWithoutRecovery_EnoentNamesTheAttribute()
    {
        _sysfs.Remove("remoteproc0", "recovery");

        Refused(Control("remoteproc0").Recover, ENOENT, "no 'recovery' attribute");
    }

    [Fact]
    public void RealWriter_RegularFile_OneWriteOfTheWord()
    {
        string file = Path.Combine(_sysfs.Root, "attr");
        File.WriteAllText(file, "");

        Assert.Equal(0, SysfsAttributeWriter.Instance.Write(file, "start\n"));
        Assert.Equal("start\n", File.ReadAllText(file));
    }

    [Fact]
    public void RealWriter_StateIsADirectory_ErrnoReachesTheException()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs.Sysfs, _sysfs.Debugfs);
        string state = Path.Combine(_sysfs.Sysfs, "remoteproc0", "state");
        File.Delete(state);
        Directory.CreateDirectory(state); // the write fails with the errno of a refused open

        // Detach writes without reading the state first (Attach and Stop read it, and would fail reading).
        var e = Assert.Throws<RemoteProcessorControlException>(control.Detach);

        Assert.Equal(EISDIR, e.Errno);
        Assert.Contains(state, e.Message, StringComparison.Ordinal);
        Assert.Contains("\"detach\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RealWriter_MissingAttribute_Enoent() =>
        Assert.Equal(ENOENT, SysfsAttributeWriter.Instance.Write(Path.Combine(_sysfs.Root, "no-such-attribute"), "x\n"));

    [Fact]
    public void InjectCrash_WithDebugfs_WritesCrashFile()
    {
        string dir = Path.Combine(_sysfs.Debugfs, "remoteproc1");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "crash"), "");
        var control = Control("remoteproc1");

        Assert.True(control.CanInjectCrash);
        control.InjectCrash();

        Assert.Equal("watchdog\n", File.ReadAllText(Path.Combine(dir, "crash")));
    }

    [Fact]
    public void InjectCrash_WithoutDebugfs_NotSupported()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs.Sysfs, debugfsRoot: null);

        Assert.False(control.CanInjectCrash);
        var e = Assert.Throws<NotSupportedException>(control.InjectCrash);
        Assert.Contains("debugfs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FindByName_ExistingName_PicksThatDevice()
    {
        var control = SysfsRemoteProcessorControl.FindByName("r5f", _sysfs.Sysfs, _sysfs.Debugfs);

        Assert.Equal("remoteproc1", control.Device);
        Assert.Equal(RemoteControlState.Running, control.State);
    }

    [Fact]
    public void Open_MissingDevice_NamesThePath()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => new SysfsRemoteProcessorControl("remoteproc7", _sysfs.Sysfs));
        Assert.Contains(Path.Combine(_sysfs.Sysfs, "remoteproc7"), e.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => SysfsRemoteProcessorControl.FindByName("gpu", _sysfs.Sysfs));
    }
}
