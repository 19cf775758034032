using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Implemented by a control backend that learns of a crash out of band (a child process that
/// exited, a watchdog interrupt). <see cref="RemoteProcessor"/> uses its doorbell as the watchdog
/// when <see cref="RemoteProcessorOptions.WatchdogDoorbell"/> is not set, so the crash is reported
/// without extra wiring.
/// </summary>
public interface IRemoteCrashSignal
{
    /// <summary>Rung when the remote died without being asked to. Owned by the backend.</summary>
    IDoorbell CrashWatchdog { get; }
}
