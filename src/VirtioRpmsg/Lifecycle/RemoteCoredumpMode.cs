namespace VirtioRpmsg.Lifecycle;

/// <summary>The kernel's remoteproc <c>coredump</c> setting: what a crash leaves behind (sysfs words "disabled", "enabled", "inline").</summary>
public enum RemoteCoredumpMode
{
    /// <summary>"disabled": recovery proceeds without a dump.</summary>
    Disabled,
    /// <summary>"enabled": the dump is copied to a buffer and offered through devcoredump.</summary>
    Enabled,
    /// <summary>"inline": no copy; recovery waits until userspace has read the dump.</summary>
    Inline,
}
