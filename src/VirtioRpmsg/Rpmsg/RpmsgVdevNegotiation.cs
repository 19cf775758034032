using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The virtio status/feature handshake over the vdev's control block, in either role, and the host's
/// watch over the status byte afterwards. It builds the transport for the negotiated features; the
/// device decides what to do with it (and with a fault) under its state machine.
/// </summary>
internal sealed class RpmsgVdevNegotiation
{
    private readonly RpmsgVdevLayout _layout;
    private readonly IVdevControl _control;
    private readonly IDoorbell _doorbell;
    private readonly string _name;
    private VirtioStatus _negotiated;
    private VirtioStatus _written;
    // Remote: the dfeatures field as it stood when the device started. The host can write that shared field too, so
    // the check of what it accepted must not read the offer from there again (a rewrite before Start is not seen).
    private uint _offered;

    internal RpmsgVdevNegotiation(RpmsgVdevLayout layout, IVdevControl control, IDoorbell doorbell, string name)
    {
        _layout = layout;
        _control = control;
        _doorbell = doorbell;
        _name = name;
    }

    /// <summary>Host: reset, acknowledge, accept what the remote offers of <paramref name="supported"/>, FEATURES_OK; returns the driver-role transport.</summary>
    internal IRpmsgTransport NegotiateAsHost(uint supported, out uint accepted)
    {
        _control.Status = VirtioStatus.None;
        var status = VirtioStatus.Acknowledge | VirtioStatus.Driver;
        _control.Status = status;
        accepted = _control.DeviceFeatures & supported;
        _control.DriverFeatures = accepted;
        status |= VirtioStatus.FeaturesOk;
        _control.Status = status;
        _negotiated = status;
        return new DriverRoleTransport(_layout, (accepted & VirtioFeatures.EventIndex) != 0, _name, _doorbell);
    }

    /// <summary>
    /// Host, once the rx buffers are posted and before anything can kick (virtio 1.x 3.1.1: no notification before
    /// DRIVER_OK): writes DRIVER_OK. The device calls it under its lock, just before it goes Running.
    /// </summary>
    internal void WriteDriverOk()
    {
        var live = _negotiated | VirtioStatus.DriverOk;
        _control.Status = live;
        _written = live;
    }

    /// <summary>
    /// Host, after <see cref="WriteDriverOk"/>: a doorbell in case the remote already waits for it, naming vq0 as
    /// virtio_rpmsg_bus does once its rx buffers are posted ("the remote may start sending"); RPMsg-Lite's remote
    /// brings its link up on that vq0 notification.
    /// </summary>
    internal void RingDriverOk() => _doorbell.Ring(DriverRoleTransport.RxVring);

    /// <summary>Remote, as the device starts: keeps a private copy of the offer (dfeatures) as the shared field holds it then.</summary>
    internal void RecordOffer() => _offered = _control.DeviceFeatures;

    /// <summary>
    /// Remote: null until the host wrote DRIVER_OK; then the device-role transport for what the host
    /// accepted, or a <paramref name="fault"/> if it accepted features that were not offered (the offer as
    /// <see cref="RecordOffer"/> copied it, whatever the shared field holds now).
    /// </summary>
    internal IRpmsgTransport? TryAcceptAsRemote(out uint accepted, out Fault? fault)
    {
        fault = null;
        accepted = 0;
        if ((_control.Status & VirtioStatus.DriverOk) == 0)
            return null;
        uint offered = _offered;
        accepted = _control.DriverFeatures;
        if ((accepted & ~offered) != 0)
        {
            fault = new Fault(FaultLayer.Rpmsg, FaultRule.FeaturesNotOffered, "gfeatures", accepted,
                $"the host accepted features 0x{accepted:X8} that were not offered (0x{offered:X8})");
            return null;
        }
        return new DeviceRoleTransport(_layout, (accepted & VirtioFeatures.EventIndex) != 0, _name, _doorbell);
    }

    /// <summary>
    /// Host: the status byte must still hold what we wrote, except DEVICE_NEEDS_RESET, which the device
    /// may set. Anything else is the remote scribbling over driver-owned bits. Null while intact (and in
    /// the remote role, which writes nothing).
    /// </summary>
    internal Fault? CheckStatus()
    {
        if (_written == VirtioStatus.None)
            return null;
        var status = _control.Status; // one read; the copy is what we judge and report
        if (status == _written)
            return null;
        return (status & VirtioStatus.NeedsReset) != 0
            ? new Fault(FaultLayer.Rpmsg, FaultRule.DeviceNeedsReset, "status", (byte)status,
                $"status byte is 0x{(byte)status:X2}: the remote set DEVICE_NEEDS_RESET (0x40)")
            : new Fault(FaultLayer.Rpmsg, FaultRule.StatusOverwritten, "status", (byte)status,
                $"status byte is 0x{(byte)status:X2}, but the host wrote 0x{(byte)_written:X2}: the remote changed driver-owned bits");
    }
}
