using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Implemented by a control backend that creates the doorbell pair itself (an in-process loopback
/// pair, an eventfd pair whose far end goes to a spawned child). <see cref="RemoteProcessor"/> asks
/// for a fresh host end before every <see cref="IRemoteProcessorControl.Start"/> and
/// <see cref="IRemoteProcessorControl.Attach"/>, and disposes it at teardown.
/// </summary>
public interface IRemoteDoorbellProvider
{
    /// <summary>Creates a new pair, keeps the remote's end for the next start/attach, returns the host's end (caller owns it).</summary>
    IDoorbell CreateHostDoorbell();
}
