namespace VirtioRpmsg.Lifecycle;

/// <summary>Where a <see cref="RemoteProcessor"/> is in its life (see docs/lifecycle.md for the diagram).</summary>
public enum RemoteProcessorState
{
    /// <summary>Not started; nothing local is set up.</summary>
    Offline,
    /// <summary>Booting or attaching: firmware, resource table, vdev set-up in progress.</summary>
    Starting,
    /// <summary>The vdev is up: the current <see cref="RemoteProcessor.Device"/> carries messages.</summary>
    Running,
    /// <summary>A crash was reported; everything local was torn down; waiting for recovery (or stop).</summary>
    Crashed,
    /// <summary>Recovery in progress (boot-recovery or attach-recovery).</summary>
    Recovering,
    /// <summary>Stopped by request: the remote is powered off and everything local is released.</summary>
    Stopped,
    /// <summary>Detached: the remote keeps running, everything local is released; <see cref="RemoteProcessor.Attach"/> resumes.</summary>
    Detached,
}
