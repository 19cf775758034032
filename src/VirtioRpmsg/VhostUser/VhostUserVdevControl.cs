using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.VhostUser;

/// <summary>
/// The vdev control of a vhost-user device. There is no status byte on the wire: the features come from
/// SET_FEATURES, and the driver is ready (DRIVER_OK) once it kicked: virtio_rpmsg_bus kicks its rx queue
/// (queue 0) after filling it with receive buffers as the last thing in its probe, and no driver may notify
/// before DRIVER_OK (virtio 1.x, 3.1.1), so a kick on either queue counts.
/// </summary>
internal sealed class VhostUserVdevControl : IVdevControl
{
    private const VirtioStatus Ready = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;
    private readonly VhostUserDoorbell _doorbell;
    private VirtioStatus _written;

    private readonly bool _driverLive;

    /// <param name="deviceFeatures">What was offered.</param>
    /// <param name="driverFeatures">What the front-end accepted.</param>
    /// <param name="doorbell">Whose first kick says the driver is ready.</param>
    /// <param name="driverLive">The rings resume where an earlier device left off: the driver is ready already and may
    /// not kick again (it kicks when it adds buffers, and it may be waiting for ours).</param>
    internal VhostUserVdevControl(uint deviceFeatures, uint driverFeatures, VhostUserDoorbell doorbell, bool driverLive = false)
    {
        DeviceFeatures = deviceFeatures;
        DriverFeatures = driverFeatures;
        _doorbell = doorbell;
        _driverLive = driverLive;
    }

    public uint DeviceFeatures { get; }

    public uint DriverFeatures { get; set; }

    public VirtioStatus Status
    {
        get
        {
            if (_driverLive)
                return Ready;
            if (!_doorbell.WasKicked)
                _doorbell.Drain();
            return _doorbell.WasKicked ? Ready : _written;
        }
        // Only a driver writes the status; a device-role caller never does.
        set => _written = value;
    }
}
