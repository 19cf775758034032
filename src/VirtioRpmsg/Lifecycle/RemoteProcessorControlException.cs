namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The kernel refused a remoteproc sysfs write. Carries the device, the attribute, the word written,
/// the errno and the state the remote was in, and says in the message what the refusal means (the
/// rules of Linux's remoteproc_sysfs.c / remoteproc_core.c). <see cref="Errno"/> 0: the kernel took the
/// write, but the remote did not get where it leads (e.g. a recovery that left it "crashed").
/// </summary>
public sealed class RemoteProcessorControlException : IOException
{
    internal RemoteProcessorControlException(string device, string path, string attribute, string command, int errno, string? state,
        string? context = null, Exception? inner = null)
        : this(Explain(device, path, attribute, command, errno, state) + (context is null ? "" : $" ({context}.)"), inner, device, path, attribute, command, errno, state)
    {
    }

    private RemoteProcessorControlException(string message, Exception? inner, string device, string path, string attribute, string command, int errno, string? state)
        : base(message, inner)
    {
        Device = device;
        Path = path;
        Attribute = attribute;
        Command = command;
        Errno = errno;
        State = state;
    }

    /// <summary>The kernel took "<paramref name="command"/>" (errno 0) but the remote is still <paramref name="state"/>: <paramref name="why"/>.</summary>
    internal static RemoteProcessorControlException NoEffect(string device, string path, string attribute, string command, string state, string why) =>
        new($"remoteproc '{device}': the kernel took \"{command}\" written to '{path}', but the remote is still {SysfsAttributeValueException.Show(state).Replace('"', '\'')}: {why}.",
            null, device, path, attribute, command, 0, state);

    /// <summary>The remoteproc device, e.g. "remoteproc0".</summary>
    public string Device { get; }

    /// <summary>The attribute file written.</summary>
    public string Path { get; }

    /// <summary>The attribute name ("state", "firmware", "recovery", "coredump").</summary>
    public string Attribute { get; }

    /// <summary>The word written.</summary>
    public string Command { get; }

    /// <summary>The error code of the refused write (16 EBUSY, 22 EINVAL, 13 EACCES, ...); 0 when the kernel took the write without effect.</summary>
    public int Errno { get; }

    /// <summary>The remote's state read after the refusal (null if it could not be read).</summary>
    public string? State { get; }

    private static string Explain(string device, string path, string attribute, string command, int errno, string? state)
    {
        string now = state is null ? "" : $" (state is {SysfsAttributeValueException.Show(state).Replace('"', '\'')})";
        string why = (attribute, command, errno) switch
        {
            (_, _, Interop.Errno.EACCES or Interop.Errno.EPERM) =>
                "permission denied: writing remoteproc attributes needs root, or a udev rule making them group-writable (docs/uio-setup.md); " +
                "a platform that sets sysfs_read_only makes them read-only for everyone",
            (_, _, Interop.Errno.ENOENT) when !File.Exists(path) => $"the kernel has no '{attribute}' attribute for this remote (older kernel)",
            ("state", "start", Interop.Errno.EBUSY) => $"the remote is already running{now}",
            ("state", "start", Interop.Errno.ENOENT) => $"the kernel could not find the firmware file (looked up under /lib/firmware){now}",
            ("state", "start", Interop.Errno.ENODEV) => "the remote processor was deleted",
            ("state", "stop", Interop.Errno.EINVAL) when state == "attached" =>
                $"the platform driver cannot stop a remote it attached to (it has no stop operation; the kernel only detaches it){now}",
            ("state", "stop", Interop.Errno.EINVAL) => $"the kernel stops only a running or attached remote{now}",
            ("state", "detach", Interop.Errno.EINVAL) => $"the kernel detaches only a remote it attached to, and only if the platform driver can detach{now}",
            ("firmware", _, Interop.Errno.EBUSY) => $"the firmware can be changed only while the remote is offline{now}",
            ("firmware", _, Interop.Errno.EINVAL) => "the kernel refuses an empty firmware name",
            ("coredump", _, Interop.Errno.EBUSY) => $"the coredump setting cannot change while the remote is crashed{now}",
            (_, _, Interop.Errno.EINVAL) => $"the kernel does not accept \"{command}\" here{now}",
            _ => $"refused{now}",
        };
        return $"remoteproc '{device}': writing \"{command}\" to '{path}' failed with {Interop.Errno.Describe(errno)}: {why}.";
    }
}
