using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// A fake /sys/class/remoteproc (and debugfs) in a temp folder whose attribute files are rendered from
/// a small model of the kernel's store functions (remoteproc_sysfs.c, remoteproc_core.c): the backend
/// reads the files as it reads sysfs, and its writes go to <see cref="Write"/>, which applies the
/// kernel's rules and answers with the kernel's error codes. The power reference count (rproc->power) is modelled:
/// "start" of a remote the kernel counts as powered (a crashed one, or one a recovery stopped but could not boot) only
/// takes a reference and does nothing; "stop" and "detach" act only when they drop the last one.
/// </summary>
internal sealed class FakeRemoteprocSysfs : ISysfsAttributeWriter, IDisposable
{
    private const int EACCES = 13, EBUSY = 16, ENODEV = 19, EINVAL = 22, ENOENT = 2;

    private readonly Dictionary<string, Remote> _remotes = [];

    public FakeRemoteprocSysfs()
    {
        Root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-rproc-" + Guid.NewGuid().ToString("N"));
        Sysfs = Path.Combine(Root, "class", "remoteproc");
        Debugfs = Path.Combine(Root, "debug", "remoteproc");
        Directory.CreateDirectory(Sysfs);
    }

    public string Root { get; }

    public string Sysfs { get; }

    public string Debugfs { get; }

    /// <summary>Every write that reached the kernel model, as "device/attribute=word".</summary>
    public List<string> Writes { get; } = [];

    /// <summary>Adds a remote; <paramref name="available"/> are the firmware files under "/lib/firmware".</summary>
    public void Add(string device, string name, string state, string firmware, bool canDetach = false, params string[] available)
    {
        var remote = new Remote(device, name) { State = state, Firmware = firmware, CanDetach = canDetach, Power = Held(state) ? 1 : 0 };
        remote.Available.Add(firmware);
        remote.Available.UnionWith(available);
        _remotes[device] = remote;
        Directory.CreateDirectory(Path.Combine(Sysfs, device));
        Render(remote);
    }

    public string File(string device, string attribute) => System.IO.File.ReadAllText(Path.Combine(Sysfs, device, attribute));

    public string State(string device) => _remotes[device].State;

    /// <summary>The platform set sysfs_read_only: state, firmware, recovery and coredump become 0444.</summary>
    public void MakeReadOnly(string device) => _remotes[device].ReadOnly = true;

    /// <summary>The platform driver has no stop operation: the kernel refuses "stop" on a remote it attached to (EINVAL, "use detach").</summary>
    public void CannotStopAttached(string device) => _remotes[device].CanStopAttached = false;

    /// <summary>The platform driver sets RPROC_FEAT_ATTACH_ON_RECOVERY: recovery detaches and re-attaches ("attached"), never boots.</summary>
    public void AttachOnRecovery(string device) => _remotes[device].AttachOnRecovery = true;

    /// <summary>The platform driver's stop fails: rproc_boot_recovery's rproc_stop errs, and the remote stays "crashed".</summary>
    public void RecoveryCannotStop(string device) => _remotes[device].RecoveryStops = false;

    /// <summary>The firmware file is taken out of "/lib/firmware" (a boot or boot recovery then fails in request_firmware).</summary>
    public void Uninstall(string device, string firmware) => _remotes[device].Available.Remove(firmware);

    /// <summary>The firmware file is put (back) under "/lib/firmware".</summary>
    public void Install(string device, string firmware) => _remotes[device].Available.Add(firmware);

    /// <summary>The kernel's power reference count of the remote (rproc->power).</summary>
    public int Power(string device) => _remotes[device].Power;

    private static bool Held(string state) => state is "running" or "attached" or "crashed";

    /// <summary>Whatever the kernel (or a hostile file) says in <c>state</c>.</summary>
    public void SetStateText(string device, string text)
    {
        _remotes[device].State = text;
        _remotes[device].Power = Held(text) ? Math.Max(1, _remotes[device].Power) : 0;
        Render(_remotes[device]);
    }

    /// <summary>The kernel model booted a firmware file (a start from offline, or a boot recovery), with the device name.</summary>
    public event Action<string>? Booted;

    /// <summary>An older kernel: the attribute does not exist.</summary>
    public void Remove(string device, string attribute)
    {
        _remotes[device].Missing.Add(attribute);
        System.IO.File.Delete(Path.Combine(Sysfs, device, attribute));
    }

    /// <summary>The remote crashes; with recovery enabled the kernel's crash handler recovers it at once.</summary>
    public void Crash(string device)
    {
        var r = _remotes[device];
        r.State = "crashed";
        var booting = new List<string>();
        if (r.Recovery)
            TriggerRecovery(r, booting);
        Render(r);
        foreach (string booted in booting)
            Booted?.Invoke(booted);
    }

    public int Write(string path, string text)
    {
        string device = Path.GetFileName(Path.GetDirectoryName(path)!);
        string attribute = Path.GetFileName(path);
        if (!_remotes.TryGetValue(device, out var r) || r.Missing.Contains(attribute))
            return ENOENT;
        Writes.Add($"{device}/{attribute}={text.TrimEnd('\n')}");
        // sysfs_streq: equal up to one trailing newline.
        string word = text.EndsWith('\n') ? text[..^1] : text;
        var booting = new List<string>();
        int errno = attribute switch
        {
            "name" => EACCES,
            _ when r.ReadOnly => EACCES,
            "state" => StoreState(r, word, booting),
            "firmware" => StoreFirmware(r, word),
            "recovery" => StoreRecovery(r, word, booting),
            "coredump" => StoreCoredump(r, word),
            _ => EACCES,
        };
        Render(r);
        foreach (string booted in booting)
            Booted?.Invoke(booted);
        return errno;
    }

    private static int StoreState(Remote r, string word, List<string> booting)
    {
        switch (word)
        {
            case "start":
                if (r.State is "running" or "attached")
                    return EBUSY;
                if (r.State == "deleted")
                    return ENODEV;
                // rproc_boot: "skip the boot or attach process if rproc is already powered up" (a crashed remote, or
                // one a boot recovery stopped but could not boot again: the crashed boot's reference is still counted).
                if (++r.Power > 1)
                    return 0;
                if (r.State == "detached")
                {
                    r.State = "attached";
                    return 0;
                }
                if (!r.Available.Contains(r.Firmware))
                {
                    r.Power--;
                    return ENOENT; // request_firmware
                }
                r.State = "running";
                booting.Add(r.Device);
                return 0;
            case "stop":
                if (r.State is not ("running" or "attached"))
                    return EINVAL;
                if (--r.Power > 0)
                    return 0; // rproc_shutdown: still needed, only the reference is dropped
                if (r.State == "attached" && !r.CanStopAttached)
                {
                    r.Power++;
                    return EINVAL; // rproc_stop without ops->stop
                }
                r.State = "offline";
                return 0;
            case "detach":
                if (r.State != "attached")
                    return EINVAL;
                if (--r.Power > 0)
                    return 0;
                if (!r.CanDetach)
                {
                    r.Power++;
                    return EINVAL;
                }
                r.State = "detached";
                return 0;
            default:
                return EINVAL;
        }
    }

    private static int StoreFirmware(Remote r, string word)
    {
        if (r.State != "offline")
            return EBUSY;
        int end = word.IndexOf('\n');
        string name = end < 0 ? word : word[..end];
        if (name.Length == 0)
            return EINVAL;
        r.Firmware = name;
        return 0;
    }

    private static int StoreRecovery(Remote r, string word, List<string> booting)
    {
        switch (word)
        {
            case "enabled":
                r.Recovery = true;
                break;
            case "disabled":
                r.Recovery = false;
                return 0;
            case "recover":
                break;
            default:
                return EINVAL;
        }
        // recovery_store does not return rproc_trigger_recovery's result.
        TriggerRecovery(r, booting);
        return 0;
    }

    /// <summary>rproc_trigger_recovery: only a crashed remote.</summary>
    private static void TriggerRecovery(Remote r, List<string> booting)
    {
        if (r.State != "crashed" || !r.RecoveryStops)
            return;
        if (r.AttachOnRecovery)
        {
            r.State = "attached"; // rproc_attach_recovery: detach, then attach; nothing is booted
            return;
        }
        // rproc_boot_recovery: rproc_stop (offline), request_firmware, rproc_start.
        r.State = "offline";
        if (r.Available.Contains(r.Firmware))
        {
            r.State = "running";
            booting.Add(r.Device);
        }
    }

    private static int StoreCoredump(Remote r, string word)
    {
        if (r.State == "crashed")
            return EBUSY;
        if (word is not ("disabled" or "enabled" or "inline"))
            return EINVAL;
        r.Coredump = word;
        return 0;
    }

    private void Render(Remote r)
    {
        void Put(string attribute, string value)
        {
            if (!r.Missing.Contains(attribute))
                System.IO.File.WriteAllText(Path.Combine(Sysfs, r.Device, attribute), value + "\n");
        }
        Put("name", r.Name);
        Put("state", r.State);
        // firmware_show: a remote someone else booted runs an image the kernel does not know.
        Put("firmware", r.State == "attached" ? "unknown" : r.Firmware);
        Put("recovery", r.Recovery ? "enabled" : "disabled");
        Put("coredump", r.Coredump);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);

    private sealed class Remote(string device, string name)
    {
        public string Device { get; } = device;
        public string Name { get; } = name;
        public string State { get; set; } = "offline";
        public string Firmware { get; set; } = "";
        public bool Recovery { get; set; } = true;
        public string Coredump { get; set; } = "disabled";
        public bool CanDetach { get; set; }
        public int Power { get; set; }
        public bool CanStopAttached { get; set; } = true;
        public bool AttachOnRecovery { get; set; }
        public bool RecoveryStops { get; set; } = true;
        public bool ReadOnly { get; set; }
        public HashSet<string> Available { get; } = [];
        public HashSet<string> Missing { get; } = [];
    }
}
