namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Powers a remote processor on and off: the part of remoteproc that is specific to the machine.
/// <see cref="RemoteProcessor"/> calls it at fixed points of its state machine, always after the
/// local vdev is torn down (on stop/detach) and before the vdev is set up (on start/attach).
/// Implementations: <see cref="SysfsRemoteProcessorControl"/> (Linux remoteproc through sysfs); the
/// VirtioRpmsg.Simulation package adds simulated remotes (in this process, or in a child process).
/// Calls are serialized by the <see cref="RemoteProcessor"/>; they may block (bounded).
/// </summary>
public interface IRemoteProcessorControl
{
    /// <summary>The remote's name (sysfs <c>name</c>; used in logs and messages).</summary>
    string Name { get; }

    /// <summary>The firmware the remote boots (sysfs <c>firmware</c>); null when the backend has none.</summary>
    string? FirmwareName { get; set; }

    /// <summary>Queries the remote's state now.</summary>
    RemoteControlState State { get; }

    /// <summary>True when <see cref="InjectCrash"/> is supported.</summary>
    bool CanInjectCrash { get; }

    /// <summary>Boots the remote. Firmware, when the host loads it, is already in shared memory.</summary>
    void Start();

    /// <summary>
    /// Powers the remote off (after the host tore its vdev down). Stopping a crashed remote cleans up after it, without
    /// booting it: a backend whose only way out of its crashed state boots the firmware (sysfs remoteproc, where only
    /// recovery leaves "crashed") leaves it as it is, and its <see cref="Start"/> recovers it.
    /// </summary>
    void Stop();

    /// <summary>The host lets go of a running remote (its vdev was reset); the remote keeps running.</summary>
    void Detach();

    /// <summary>The host takes over a remote that is already running (its vdev status was reset); throws if it is not running.</summary>
    void Attach();

    /// <summary>Makes the remote die abruptly (tests, debugfs <c>crash</c>); <see cref="NotSupportedException"/> unless <see cref="CanInjectCrash"/>.</summary>
    void InjectCrash();
}
