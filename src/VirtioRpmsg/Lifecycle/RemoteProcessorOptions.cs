using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Settings of a <see cref="RemoteProcessor"/>.</summary>
public sealed record RemoteProcessorOptions
{
    /// <summary>Recovery mechanism used by <see cref="RemoteProcessor.Recover"/> (and automatic recovery).</summary>
    public RemoteRecoveryMode RecoveryMode { get; init; } = RemoteRecoveryMode.Boot;

    /// <summary>Recover on the monitor thread right after a crash is reported (Linux's default, recovery "enabled").</summary>
    public bool AutoRecover { get; init; }

    /// <summary>
    /// Firmware ELF loaded into shared memory at every boot (PT_LOAD segments via <see cref="FirmwareLoader"/>);
    /// its <c>.resource_table</c> must land where the platform description puts the table. Null: the remote
    /// writes its own table (the host waits for it).
    /// </summary>
    public string? FirmwarePath { get; init; }

    /// <summary>Upper bound for the remote's resource table to appear (boot, attach).</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound for application leases to drain before a region is unmapped.</summary>
    public TimeSpan UnmapDrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the monitor reads the peer's vdev status byte (and checks heartbeat and watchdog).</summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>A crash is reported when <see cref="RemoteProcessor.Heartbeat"/> was not called for this long while running; null: off.</summary>
    public TimeSpan? HeartbeatTimeout { get; init; }

    /// <summary>A doorbell the remote's watchdog rings (not owned): a ring while running reports a crash.</summary>
    public IDoorbell? WatchdogDoorbell { get; init; }

    /// <summary>
    /// Creates the host's doorbell for each new vdev (the processor disposes it at teardown); null: the
    /// control's <see cref="IRemoteVdevDoorbellProvider"/> or <see cref="IRemoteDoorbellProvider"/>, else
    /// the platform description's doorbell. Makes one doorbell: for a platform with several vdevs use
    /// <see cref="VdevDoorbellFactory"/>.
    /// </summary>
    public Func<IDoorbell>? DoorbellFactory { get; init; }

    /// <summary>
    /// As <see cref="DoorbellFactory"/>, given the vdev index (0 is the description's <c>vdev</c>, then
    /// <c>additionalVdevs</c> in order): each vdev has its own doorbell channel. Takes precedence over it.
    /// </summary>
    public Func<int, IDoorbell>? VdevDoorbellFactory { get; init; }

    /// <summary>
    /// Options of every host <see cref="RpmsgDevice"/> created (one per vdev and boot/attach/recovery); vdev
    /// i &gt; 0 gets the name with ".vdev<i>i</i>" appended, to be told apart in logs and metrics.
    /// </summary>
    public RpmsgDeviceOptions DeviceOptions { get; init; } = new();

    /// <summary>Log sink for failures during teardown, cleanup and monitoring; nothing by default.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    internal void Validate()
    {
        if (BootTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(BootTimeout), BootTimeout, "BootTimeout must be positive.");
        if (UnmapDrainTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(UnmapDrainTimeout), UnmapDrainTimeout, "UnmapDrainTimeout must be positive.");
        if (MonitorInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(MonitorInterval), MonitorInterval, "MonitorInterval must be positive.");
        if (HeartbeatTimeout is { } h && h <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(HeartbeatTimeout), h, "HeartbeatTimeout must be positive when set.");
        ArgumentNullException.ThrowIfNull(DeviceOptions);
        ArgumentNullException.ThrowIfNull(Logger);
    }
}
