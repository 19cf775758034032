using Microsoft.Extensions.Logging;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.VhostUser;

// Making a device once both queues are set up (TryCreateDevice, called after every request).
internal sealed partial class VhostUserRpmsgBackend
{
    private void TryCreateDevice()
    {
        if (_device is not null || _memory is null || _accepted is not ulong accepted || !_vrings[0].IsReady || !_vrings[1].IsReady)
            return;
        // The application's zero-copy buffers of the last device end before a fresh one hands the same buffers out.
        if (_previous is { } previous)
        {
            _options.WaitingForZeroCopy?.Invoke();
            if (!previous.ZeroCopy.WaitForNone(_options.ZeroCopyDrainTimeout))
                throw new TimeoutException($"vhost-user {Name}: the application still holds {previous.ZeroCopy.Open} zero-copy buffer(s) of the last device after {_options.ZeroCopyDrainTimeout.TotalSeconds} s; a fresh device would hand them out again");
            _previous = null;
        }
        var (v0, v1) = (_vrings[0], _vrings[1]);
        if (v0.Num != v1.Num || v0.Align != v1.Align)
            throw new VhostUserProtocolException(FaultRule.VhostUserVringSize, "vring[1].num", (ulong)v1.Num,
                $"vhost-user: the two queues differ (num {v0.Num} / {v1.Num}, align {v0.Align} / {v1.Align}); rpmsg needs the same layout for both");
        var layout = new RpmsgVdevLayout
        {
            Memory = _memory.Map,
            Vring0Address = v0.Address!.Value,
            Vring1Address = v1.Address!.Value,
            VringNum = v0.Num,
            VringAlign = v0.Align,
            BufferPoolAddress = 0, // the guest's pool; the remote role only uses the buffers it posts
            BufferCount = 2 * v0.Num,
            BufferSize = _options.BufferSize,
            // A ring resumed with SET_VRING_BASE (VM stop/cont, memory hotplug) goes on where the last device left off.
            Vring0NextAvail = (ushort)v0.Base,
            Vring1NextAvail = (ushort)v1.Base,
            Vring0InFlight = v0.InFlight, Vring1InFlight = v1.InFlight,
        };
        v0.CheckResumable(_memory.Map);
        v1.CheckResumable(_memory.Map);
        var doorbell = new VhostUserDoorbell([v0.Kick!, v1.Kick!], [v0.Call!, v1.Call!], Name);
        bool driverLive = v0.Base != 0 || v1.Base != 0 || (v0.DriverLive && v1.DriverLive);
        var control = new VhostUserVdevControl((uint)(_offered & RpmsgFeatureMask), (uint)(accepted & RpmsgFeatureMask), doorbell, driverLive);
        RpmsgDevice device;
        try
        {
            device = RpmsgDevice.CreateRemote(layout, control, doorbell, _options.Device);
        }
        catch (ArgumentException e)
        {
            doorbell.Dispose();
            throw new VhostUserProtocolException(FaultRule.VhostUserVringAddress, "vring[0].desc", v0.Address.Value,
                $"vhost-user: the queues cannot be placed (vring 0 at 0x{v0.Address.Value:X}, vring 1 at 0x{v1.Address.Value:X}): {e.Message}");
        }
        try
        {
            if (driverLive)
            {
                // The live driver still has the last device's channels: those this one does not serve alike are withdrawn.
                device.WithdrawAtLinkUp = _announced;
                // The device gives back what the last one held (vring 1's buffers in flight) as it links up (its transport
                // is made then, on its dispatcher thread or at a Poll, after Start returned): interrupted then, first of
                // the handlers (an application's may block), or a driver that took the interrupt below too early, found
                // nothing and slept, is never told (a driver out of tx buffers waits forever). Ring never blocks.
                device.StateChanged += (_, state) =>
                {
                    if (state == RpmsgDeviceState.Running)
                        doorbell.Ring();
                };
            }
            _options.DeviceCreated?.Invoke(device);
            device.Start();
            // The last device's final used entries: its final interrupts went to a doorbell torn down with it.
            if (driverLive)
                doorbell.Ring();
        }
        catch
        {
            device.Dispose();
            doorbell.Dispose();
            throw;
        }
        _device = device;
        _doorbell = doorbell;
        DevicesCreated++;
        _options.Logger.LogInformation("vhost-user {Name}: device {Count} created (num {Num}, features 0x{Features:X})", Name, DevicesCreated, v0.Num, accepted);
    }
}
