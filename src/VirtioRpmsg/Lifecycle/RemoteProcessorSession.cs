using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Everything one boot/attach of a <see cref="RemoteProcessor"/> created: a fresh host device (with its
/// queues, endpoints and channels), the host's doorbell and the vdev control bound to the current
/// mapping generation. Nothing of it is reused by the next session.
/// </summary>
internal sealed class RemoteProcessorSession(int id, RpmsgDevice device, IDoorbell doorbell, IVdevControl vdevControl)
{
    public int Id { get; } = id;

    public RpmsgDevice Device { get; } = device;

    public IDoorbell Doorbell { get; } = doorbell;

    /// <summary>The peer's status byte (bound to this session's mapping generation: fails once unmapped).</summary>
    public IVdevControl VdevControl { get; } = vdevControl;
}
