using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>The sysfs backend against a fake remoteproc tree (and debugfs) in a temp folder.</summary>
public sealed class SysfsRemoteProcessorControlTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-sysfs-" + Guid.NewGuid().ToString("N"));
    private readonly string _sysfs;
    private readonly string _debugfs;

    public SysfsRemoteProcessorControlTests()
    {
        _sysfs = Path.Combine(_root, "class", "remoteproc");
        _debugfs = Path.Combine(_root, "debug", "remoteproc");
        AddDevice("remoteproc0", "m4", "offline", "rproc-m4-fw");
        AddDevice("remoteproc1", "r5f", "running", "r5.elf");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AddDevice(string device, string name, string state, string firmware)
    {
        string dir = Path.Combine(_sysfs, device);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "name"), name + "\n");
        File.WriteAllText(Path.Combine(dir, "state"), state + "\n");
        File.WriteAllText(Path.Combine(dir, "firmware"), firmware + "\n");
    }

    private string Attribute(string device, string attribute) => File.ReadAllText(Path.Combine(_sysfs, device, attribute));

    private void SetState(string device, string state) => File.WriteAllText(Path.Combine(_sysfs, device, "state"), state + "\n");

    [Fact]
    public void Attributes_FakeTree_ReadTrimmed()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs, _debugfs);

        Assert.Equal("m4", control.Name);
        Assert.Equal("rproc-m4-fw", control.FirmwareName);
        Assert.Equal(RemoteControlState.Offline, control.State);
        Assert.Equal("offline", control.ReadStateString());
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
    public void State_EachKernelString_Parsed(string text, RemoteControlState expected)
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs, _debugfs);

        SetState("remoteproc0", text);

        Assert.Equal(expected, control.State);
    }

    [Fact]
    public void Commands_WriteTheKernelWords()
    {
        var control = new SysfsRemoteProcessorControl("/sys/class/remoteproc/remoteproc0", _sysfs, _debugfs);

        control.Start();
        Assert.Equal("start\n", Attribute("remoteproc0", "state"));
        SetState("remoteproc0", "running");
        control.Stop();
        Assert.Equal("stop\n", Attribute("remoteproc0", "state"));
        control.Detach();
        Assert.Equal("detach\n", Attribute("remoteproc0", "state"));
        control.Attach();
        Assert.Equal("start\n", Attribute("remoteproc0", "state"));
        control.FirmwareName = "other.elf";
        Assert.Equal("other.elf\n", Attribute("remoteproc0", "firmware"));
    }

    [Fact]
    public void Stop_AlreadyOffline_WritesNothing()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs, _debugfs);

        control.Stop();

        Assert.Equal("offline\n", Attribute("remoteproc0", "state"));
    }

    [Fact]
    public void InjectCrash_WithDebugfs_WritesCrashFile()
    {
        string dir = Path.Combine(_debugfs, "remoteproc1");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "crash"), "");
        var control = new SysfsRemoteProcessorControl("remoteproc1", _sysfs, _debugfs);

        Assert.True(control.CanInjectCrash);
        control.InjectCrash();

        Assert.Equal("watchdog\n", File.ReadAllText(Path.Combine(dir, "crash")));
    }

    [Fact]
    public void InjectCrash_WithoutDebugfs_NotSupported()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs, debugfsRoot: null);

        Assert.False(control.CanInjectCrash);
        var e = Assert.Throws<NotSupportedException>(control.InjectCrash);
        Assert.Contains("debugfs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FindByName_ExistingName_PicksThatDevice()
    {
        var control = SysfsRemoteProcessorControl.FindByName("r5f", _sysfs, _debugfs);

        Assert.Equal("remoteproc1", control.Device);
        Assert.Equal(RemoteControlState.Running, control.State);
    }

    [Fact]
    public void Open_MissingDevice_NamesThePath()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => new SysfsRemoteProcessorControl("remoteproc7", _sysfs));
        Assert.Contains(Path.Combine(_sysfs, "remoteproc7"), e.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => SysfsRemoteProcessorControl.FindByName("dsp", _sysfs));
    }

    [Fact]
    public void Write_ReadOnlyAttribute_IOExceptionNamesFileAndCommand()
    {
        var control = new SysfsRemoteProcessorControl("remoteproc0", _sysfs, _debugfs);
        string state = Path.Combine(_sysfs, "remoteproc0", "state");
        File.Delete(state);
        Directory.CreateDirectory(state); // writing a directory fails like a refused sysfs write

        var e = Assert.Throws<IOException>(control.Start);

        Assert.Contains(state, e.Message, StringComparison.Ordinal);
        Assert.Contains("\"start\"", e.Message, StringComparison.Ordinal);
    }
}
