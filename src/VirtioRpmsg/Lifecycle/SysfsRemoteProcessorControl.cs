namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Linux remoteproc through sysfs (Documentation/ABI/testing/sysfs-class-remoteproc):
/// <c>{root}/remoteprocN/state</c> (read "offline", "suspended", "running", "crashed", "deleted",
/// "attached", "detached" or "invalid"; write "start", "stop", "detach"), <c>firmware</c> (a file
/// name under /lib/firmware, writable only while offline), <c>recovery</c> ("enabled", "disabled";
/// write "recover"), <c>coredump</c> ("disabled", "enabled", "inline") and <c>name</c>; crash
/// injection through debugfs (<c>{debugfs}/remoteprocN/crash</c>) when it is present. Both roots are
/// configurable so tests can point them at a fake tree. A write the kernel refuses raises
/// <see cref="RemoteProcessorControlException"/> with the errno and what it means; other I/O errors
/// name the file and what was being done.
/// </summary>
public sealed class SysfsRemoteProcessorControl : IRemoteProcessorControl
{
    /// <summary>The kernel's remoteproc class directory.</summary>
    public const string DefaultSysfsRoot = "/sys/class/remoteproc";

    /// <summary>The kernel's remoteproc debugfs directory.</summary>
    public const string DefaultDebugfsRoot = "/sys/kernel/debug/remoteproc";

    private readonly string _directory;
    private readonly string? _debugDirectory;
    private readonly ISysfsAttributeWriter _writer;

    /// <param name="device">"remoteproc0" (or a path ending in it).</param>
    /// <param name="sysfsRoot">Root of the remoteproc class tree.</param>
    /// <param name="debugfsRoot">Root of remoteproc's debugfs; null disables crash injection.</param>
    public SysfsRemoteProcessorControl(string device, string sysfsRoot = DefaultSysfsRoot, string? debugfsRoot = DefaultDebugfsRoot)
        : this(device, sysfsRoot, debugfsRoot, SysfsAttributeWriter.Instance)
    {
    }

    /// <summary>As the public constructor, with the attribute writer given (tests: a model of the kernel's store functions).</summary>
    internal SysfsRemoteProcessorControl(string device, string sysfsRoot, string? debugfsRoot, ISysfsAttributeWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
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

    /// <summary>
    /// The firmware file name in sysfs <c>firmware</c> (looked up under /lib/firmware by the kernel;
    /// "unknown" while attached to a remote someone else booted). Setting it needs the remote offline
    /// (the kernel answers EBUSY otherwise); an empty name or one with a newline is refused here, since
    /// the kernel would cut the name at the newline.
    /// </summary>
    public string? FirmwareName
    {
        get => Read("firmware");
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            if (value.AsSpan().IndexOfAny('\n', '\0') >= 0)
                throw new ArgumentException($"remoteproc '{Device}': firmware name \"{value.ReplaceLineEndings("\\n")}\" contains a newline or NUL; the kernel keeps only the part before a newline.", nameof(value));
            Write("firmware", value);
        }
    }

    /// <summary>sysfs <c>recovery</c>: whether the kernel recovers a crashed remote by itself. Enabling it while crashed recovers at once.</summary>
    public bool RecoveryEnabled
    {
        get => Read("recovery") switch
        {
            "enabled" => true,
            "disabled" => false,
            var other => throw Unexpected("recovery", other, "\"enabled\" or \"disabled\""),
        };
        set => Write("recovery", value ? "enabled" : "disabled");
    }

    /// <summary>Writes "recover" to sysfs <c>recovery</c>: a crashed remote is recovered now (whatever the setting); otherwise nothing happens.</summary>
    public void Recover() => Write("recovery", "recover");

    /// <summary>sysfs <c>coredump</c>; cannot change while the remote is crashed (EBUSY).</summary>
    public RemoteCoredumpMode Coredump
    {
        get => Read("coredump") switch
        {
            "disabled" => RemoteCoredumpMode.Disabled,
            "enabled" => RemoteCoredumpMode.Enabled,
            "inline" => RemoteCoredumpMode.Inline,
            var other => throw Unexpected("coredump", other, "\"disabled\", \"enabled\" or \"inline\""),
        };
        set => Write("coredump", value switch
        {
            RemoteCoredumpMode.Disabled => "disabled",
            RemoteCoredumpMode.Enabled => "enabled",
            RemoteCoredumpMode.Inline => "inline",
            _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a coredump mode."),
        });
    }

    /// <summary>The raw state string (e.g. "running").</summary>
    public string ReadStateString() => Read("state");

    /// <summary>The state read from sysfs <c>state</c> now.</summary>
    public RemoteControlState State => ParseState(ReadStateString());

    /// <summary>True when debugfs has this remote's <c>crash</c> file.</summary>
    public bool CanInjectCrash => _debugDirectory is not null;

    /// <summary>
    /// Boots the remote: writes "start" to sysfs <c>state</c> (the kernel loads <see cref="FirmwareName"/>
    /// and boots it; a detached remote is attached instead). A crashed remote is recovered through
    /// <c>recovery</c> instead, since the kernel ignores "start" while it still holds the crashed one: the kernel's
    /// boot recovery boots the firmware, which is the start; a platform that attaches on recovery only re-attaches,
    /// so that remote is then stopped and started. A state that is not a kernel word is refused before writing
    /// (<see cref="SysfsAttributeValueException"/>).
    /// </summary>
    public void Start()
    {
        var before = ReadKnownState("start");
        if (before is not RemoteControlState.Crashed)
        {
            Write("state", "start");
            if (before is RemoteControlState.Offline)
                RequireBooted(null);
            return;
        }
        const string Why = "the remote was 'crashed', which the kernel does not start, so it was recovered first (\"recover\" to 'recovery')";
        switch (RecoverCrashed(Why, "started"))
        {
            case RemoteControlState.Running:
                return; // booted by the recovery
            case RemoteControlState.Attached:
                // Re-attached to what the remote runs: no fresh boot yet.
                WriteExplained("state", "stop", $"{Why}, which re-attached it; it was not started");
                WriteExplained("state", "start", $"{Why}, which re-attached it, then stopped it");
                RequireBooted($"{Why}, which re-attached it, then stopped it");
                return;
            default:
                WriteExplained("state", "start", $"{Why}, which stopped it but did not boot it");
                RequireBooted($"{Why}, which stopped it but did not boot it (see the kernel log: the firmware '{Read("firmware")}' could not be loaded or started?)");
                return;
        }
    }

    /// <summary>
    /// After "start" from "offline": the kernel boots synchronously, so a remote still "offline" was not booted although
    /// the write was taken. rproc_boot only counts another power reference when the kernel still counts one: a boot
    /// recovery that stopped the crashed remote but could not boot it again keeps the crashed boot's, and then "start"
    /// does nothing and "stop" is refused until the remoteproc driver is reloaded.
    /// </summary>
    private void RequireBooted(string? context)
    {
        string after = ReadStateString();
        if (ParseState(after) is not RemoteControlState.Offline)
            return;
        throw RemoteProcessorControlException.NoEffect(Device, Path.Combine(_directory, "state"), "state", "start", after,
            (context is null ? "" : context + "; ")
            + "the kernel still counts a power reference of an earlier boot (a recovery that stopped the crashed remote but could not "
            + "boot it again keeps it), so \"start\" only counts another and does nothing, and \"stop\" is refused: reload the "
            + "remoteproc platform driver (unbind and bind it, or its module) to start it again; it was not started");
    }

    /// <summary>
    /// Powers the remote off: writes "stop" to sysfs <c>state</c>, so that it ends "offline" (a new
    /// <see cref="FirmwareName"/> can be set, and "start" boots). An offline remote is left alone. The kernel stops only
    /// a remote it holds ("running" or "attached"):
    /// <list type="bullet">
    /// <item>A "crashed" one is left as the kernel holds it, nothing written: "stop" is refused (EINVAL), and the only
    /// way out of "crashed" is recovery, which boots the firmware again; a stop (or a dispose) must not boot what
    /// crashed, as Linux's own teardown (rproc_del) leaves it. <see cref="Start"/> recovers it; its firmware can be
    /// changed only once it is offline (the kernel refuses with EBUSY before).</item>
    /// <item>A "detached" one is attached first ("start"), then stopped; should the platform driver be unable to stop a
    /// remote it attached to (EINVAL), the remote is detached again and the refusal says so.</item>
    /// </list>
    /// A state that is not a kernel word is refused before writing (<see cref="SysfsAttributeValueException"/>).
    /// </summary>
    public void Stop()
    {
        switch (ReadKnownState("stop"))
        {
            case RemoteControlState.Offline:
            case RemoteControlState.Crashed:
                return;
            case RemoteControlState.Detached:
                StopDetached();
                return;
            default:
                Write("state", "stop");
                return;
        }
    }

    /// <summary>Writes "recover" to a crashed remote's <c>recovery</c>: running, attached or offline after it, else refused.</summary>
    private RemoteControlState RecoverCrashed(string why, string goal)
    {
        Recover();
        string after = ReadStateString();
        var state = ParseState(after);
        if (state is not (RemoteControlState.Running or RemoteControlState.Attached or RemoteControlState.Offline))
            throw RemoteProcessorControlException.NoEffect(Device, Path.Combine(_directory, "recovery"), "recovery", "recover", after,
                $"{why}, but recovery left it so (see the kernel log); it was not {goal}");
        return state;
    }

    /// <summary>As <see cref="Write"/>; a refusal also says what led to the write.</summary>
    private void WriteExplained(string attribute, string value, string context)
    {
        try
        {
            Write(attribute, value);
        }
        catch (RemoteProcessorControlException e)
        {
            throw new RemoteProcessorControlException(e.Device, e.Path, e.Attribute, e.Command, e.Errno, e.State, context, e);
        }
    }

    private void StopDetached()
    {
        try
        {
            Write("state", "start");
        }
        catch (RemoteProcessorControlException e)
        {
            throw new RemoteProcessorControlException(e.Device, e.Path, e.Attribute, e.Command, e.Errno, e.State,
                "the remote was 'detached', which the kernel does not stop, so it had to be attached first; it was not stopped", e);
        }
        try
        {
            Write("state", "stop");
        }
        catch (RemoteProcessorControlException e)
        {
            // Leave it as it was found (running, let go of) rather than attached to a kernel nobody asked to hold it.
            string after;
            try
            {
                Write("state", "detach");
                after = "it was detached again and keeps running";
            }
            catch (IOException again)
            {
                after = $"detaching it again failed too ({again.Message}), so the kernel keeps it attached";
            }
            throw new RemoteProcessorControlException(e.Device, e.Path, e.Attribute, e.Command, e.Errno, e.State,
                $"the remote was 'detached', which the kernel does not stop, so it was attached first (\"start\"); {after}", e);
        }
    }

    /// <summary>Writes "detach" to sysfs <c>state</c>: the kernel lets go and the remote keeps running (only from "attached", and only if the platform driver can detach).</summary>
    public void Detach() => Write("state", "detach");

    /// <summary>
    /// Writing "start" to a detached remote makes the kernel attach to it (EBUSY if it is already running or attached).
    /// Any other state is refused before writing (<see cref="InvalidOperationException"/> naming it), since an attach must
    /// never boot: from "offline" the kernel's "start" would boot <see cref="FirmwareName"/>, and a "crashed" remote
    /// leaves that state only through recovery, which boots the firmware again unless the platform driver attaches on
    /// recovery (which sysfs does not tell). A state that is not a kernel word: <see cref="SysfsAttributeValueException"/>.
    /// </summary>
    public void Attach()
    {
        var state = ReadKnownState("attach");
        if (state is RemoteControlState.Detached or RemoteControlState.Running or RemoteControlState.Attached)
        {
            // Running or attached: the kernel's EBUSY says it is already held.
            Write("state", "start");
            return;
        }
        string file = Path.Combine(_directory, "state");
        string why = state switch
        {
            RemoteControlState.Offline => $"; writing \"start\" would boot the firmware '{Read("firmware")}' instead (use Start to boot it)",
            RemoteControlState.Crashed => $"; the kernel lets go of a crashed remote only by recovering it (\"recover\" to 'recovery'), which boots the "
                + $"firmware '{Read("firmware")}' again unless the platform driver attaches on recovery. Start it (a recovery, which boots it), "
                + "or enable the kernel's recovery",
            _ => "",
        };
        throw new InvalidOperationException($"remoteproc '{Device}': cannot attach: '{file}' says '{ToWord(state)}', and the kernel attaches only to a 'detached' remote{why}.");
    }

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

    /// <summary>The state now, refused (nothing written) when <c>state</c> holds something the kernel never writes there.</summary>
    private RemoteControlState ReadKnownState(string verb)
    {
        string text = ReadStateString();
        var state = ParseState(text);
        if (state == RemoteControlState.Unknown)
            throw Unexpected("state", text, "one of \"offline\", \"suspended\", \"running\", \"crashed\", \"deleted\", \"attached\", \"detached\", \"invalid\"",
                $"nothing was written to {verb} it");
        return state;
    }

    private SysfsAttributeValueException Unexpected(string attribute, string value, string expected, string? consequence = null) =>
        new(Device, Path.Combine(_directory, attribute), attribute, value, expected, consequence);

    private static string ToWord(RemoteControlState state) => state.ToString().ToLowerInvariant();

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

    private void Write(string attribute, string value)
    {
        string path = Path.Combine(_directory, attribute);
        // One write of the whole word, as `echo` does; sysfs_streq takes the trailing newline.
        int errno = _writer.Write(path, value + "\n");
        if (errno == 0)
            return;
        string? state = null;
        try
        {
            state = ReadStateString();
        }
        catch (IOException)
        {
            // The state stays unknown in the message.
        }
        throw new RemoteProcessorControlException(Device, path, attribute, value, errno, state);
    }

    private void WriteFile(string path, string value, string what)
    {
        try
        {
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
