using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Implemented by a control backend that creates the doorbell pairs itself for a remote with several
/// vdevs (each vdev has its own doorbell channel). <see cref="RemoteProcessor"/> asks for a fresh host
/// end of every vdev before every <see cref="IRemoteProcessorControl.Start"/> and
/// <see cref="IRemoteProcessorControl.Attach"/>, and disposes them at teardown. Preferred over
/// <see cref="IRemoteDoorbellProvider"/> when a backend implements both.
/// </summary>
public interface IRemoteVdevDoorbellProvider
{
    /// <summary>
    /// Creates a new pair for vdev <paramref name="vdev"/> (0 is the description's <c>vdev</c>, then
    /// <c>additionalVdevs</c> in order), keeps the remote's end for the next start/attach, returns the host's end (caller owns it).
    /// </summary>
    IDoorbell CreateHostDoorbell(int vdev);
}
