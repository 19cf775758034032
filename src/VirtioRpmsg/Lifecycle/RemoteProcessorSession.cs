using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Everything one boot/attach of a <see cref="RemoteProcessor"/> created: per vdev a fresh host device
/// (with its queues, endpoints and channels), the host's doorbell and the vdev control bound to the
/// current mapping generation. Nothing of it is reused by the next session.
/// </summary>
internal sealed class RemoteProcessorSession(int id, RemoteProcessorVdev[] vdevs)
{
    public int Id { get; } = id;

    /// <summary>One per vdev, in vdev order (never empty).</summary>
    public IReadOnlyList<RemoteProcessorVdev> Vdevs { get; } = vdevs;

    /// <summary>Vdev 0's device.</summary>
    public RpmsgDevice Device => Vdevs[0].Device;

    public RpmsgDevice[] Devices() => Vdevs.Select(v => v.Device).ToArray();
}

/// <summary>
/// One vdev of a <see cref="RemoteProcessorSession"/>; its <see cref="VdevControl"/> is the peer's status
/// byte, bound to the session's mapping generation (fails once unmapped).
/// </summary>
internal sealed record RemoteProcessorVdev(int Index, RpmsgDevice Device, IDoorbell Doorbell, IVdevControl VdevControl);
