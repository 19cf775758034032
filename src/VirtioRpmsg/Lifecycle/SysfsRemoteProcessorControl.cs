namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Linux remoteproc through sysfs: <c>{root}/remoteprocN/state</c> (read the state string; write
/// "start", "stop", "detach"), <c>firmware</c> and <c>name</c>; crash injection through debugfs
/// (<c>{debugfs}/remoteprocN/crash</c>) when it is present. Both roots are configurable so tests can
/// point them at a fake tree. Every I/O error names the file and what was being done.
/// </summary>
public sealed class SysfsRemoteProcessorControl : IRemoteProcessorControl
{
    /// <summary>The kernel's remoteproc class directory.</summary>
    public const string DefaultSysfsRoot = "/sys/class/remoteproc";

    /// <summary>The kernel's remoteproc debugfs directory.</summary>
    public const string DefaultDebugfsRoot = "/sys/kernel/debug/remoteproc";

    private readonly string _directory;
    private readonly string? _debugDirectory;

    /// <param name="device">"remoteproc0" (or a path ending in it).</param>
    /// <param name="sysfsRoot">Root of the remoteproc class tree.</param>
    /// <param name="debugfsRoot">Root of remoteproc's debugfs; null disables crash injection.</param>
    public SysfsRemoteProcessorControl(string device, string sysfsRoot = DefaultSysfsRoot, string? debugfsRoot = DefaultDebugfsRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        ArgumentNullException.ThrowIfNull(sysfsRoot);
        Device = Path.GetFileName(device.TrimEnd('/'));
        _directory = Path.Combine(sysfsRoot, Device);
        if (!Directory.Exists(_directory))
            throw new DirectoryNotFoundException($"remoteproc device '{Device}' not found: '{_directory}' does not exist.");
        if (debugfsRoot is not null && File.Exists(Path.Combine(debugfsRoot, Device, "crash")))
            _debugDirectory = Path.Combine(debugfsRoot, Device);
    }

    /// <summary>Finds the remoteproc device whose <c>name</c> file says <paramref name="name"/>.</summary>
    public static SysfsRemoteProcessorControl FindByName(string name, string sysfsRoot = DefaultSysfsRoot, string? debugfsRoot = DefaultDebugfsRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Directory.Exists(sysfsRoot))
        {
            foreach (var dir in Directory.GetDirectories(sysfsRoot, "remoteproc*").Order(StringComparer.Ordinal))
            {
                string file = Path.Combine(dir, "name");
                if (File.Exists(file) && File.ReadAllText(file).Trim() == name)
                    return new SysfsRemoteProcessorControl(dir, sysfsRoot, debugfsRoot);
            }
        }
        throw new DirectoryNotFoundException($"no remoteproc device named '{name}' under '{sysfsRoot}'.");
    }

    /// <summary>The device directory name, e.g. "remoteproc0".</summary>
    public string Device { get; }

    /// <summary>The remote's name from sysfs (the device directory name when there is no name file).</summary>
    public string Name
    {
        get
        {
            string file = Path.Combine(_directory, "name");
            return File.Exists(file) ? Read("name") : Device;
        }
    }

    /// <summary>The firmware file name in sysfs <c>firmware</c> (looked up under /lib/firmware by the kernel); setting it needs the remote offline.</summary>
    public string? FirmwareName
    {
        get => Read("firmware");
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            Write("firmware", value, "set the firmware");
        }
    }

    /// <summary>The raw state string (e.g. "running").</summary>
    public string ReadStateString() => Read("state");

    /// <summary>The state read from sysfs <c>state</c> now.</summary>
    public RemoteControlState State => ParseState(ReadStateString());

    /// <summary>True when debugfs has this remote's <c>crash</c> file.</summary>
    public bool CanInjectCrash => _debugDirectory is not null;

    /// <summary>Writes "start" to sysfs <c>state</c>: the kernel loads the firmware and boots the remote.</summary>
    public void Start() => Write("state", "start", "start the remote");

    /// <summary>Writes "stop" to sysfs <c>state</c>; a remote that is already offline is left alone.</summary>
    public void Stop()
    {
        // The kernel refuses "stop" on an offline remote; stopping what is already off is a no-op here.
        if (State is RemoteControlState.Offline)
            return;
        Write("state", "stop", "stop the remote");
    }

    /// <summary>Writes "detach" to sysfs <c>state</c>: the kernel lets go and the remote keeps running.</summary>
    public void Detach() => Write("state", "detach", "detach from the remote");

    /// <summary>Writing "start" to a detached remote makes the kernel attach to it.</summary>
    public void Attach() => Write("state", "start", "attach to the remote");

    /// <summary>Writes "watchdog" to debugfs <c>crash</c>; <see cref="NotSupportedException"/> without debugfs.</summary>
    public void InjectCrash()
    {
        if (_debugDirectory is null)
            throw new NotSupportedException($"crash injection needs debugfs: '{Device}/crash' was not found under the debugfs root.");
        WriteFile(Path.Combine(_debugDirectory, "crash"), "watchdog", "inject a crash");
    }

    /// <summary>Maps a remoteproc state string to <see cref="RemoteControlState"/> (unknown strings: <see cref="RemoteControlState.Unknown"/>).</summary>
    public static RemoteControlState ParseState(string text) => text.Trim() switch
    {
        "offline" => RemoteControlState.Offline,
        "suspended" => RemoteControlState.Suspended,
        "running" => RemoteControlState.Running,
        "crashed" => RemoteControlState.Crashed,
        "deleted" => RemoteControlState.Deleted,
        "attached" => RemoteControlState.Attached,
        "detached" => RemoteControlState.Detached,
        "invalid" => RemoteControlState.Invalid,
        _ => RemoteControlState.Unknown,
    };

    private string Read(string attribute)
    {
        string path = Path.Combine(_directory, attribute);
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"remoteproc '{Device}': cannot read '{path}': {e.Message}", e);
        }
    }

    private void Write(string attribute, string value, string what) => WriteFile(Path.Combine(_directory, attribute), value, what);

    private void WriteFile(string path, string value, string what)
    {
        try
        {
            // One write of the whole word, as `echo` does; sysfs takes the trailing newline.
            File.WriteAllText(path, value + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"remoteproc '{Device}': cannot {what} (writing \"{value}\" to '{path}'): {e.Message}", e);
        }
    }

    /// <summary>The remoteproc device, for logs.</summary>
    public override string ToString() => $"sysfs remoteproc {Device}";
}
