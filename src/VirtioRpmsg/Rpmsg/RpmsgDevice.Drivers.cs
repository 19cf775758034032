namespace VirtioRpmsg.Rpmsg;

// Service drivers: registration, and when a channel is ready for the application.
public sealed partial class RpmsgDevice
{
    /// <summary>
    /// Registers a service driver; announcements already seen for its name are bound now: their Probe runs on this
    /// thread, before this returns (a later announcement is probed on the dispatcher).
    /// </summary>
    /// <exception cref="ArgumentException">A driver for the name is registered on this device already.</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke: it probes no channel any more (after a
    /// recovery, register on the new device, or once on <c>RemoteProcessor.RegisterDriver</c>). Nothing was registered.</exception>
    public void RegisterDriver(RpmsgServiceDriver driver) => _nameService.RegisterDriver(driver);

    /// <summary>As <see cref="RegisterDriver"/>, without probing: returns what probes the pending announcements (null if none), for a caller to run outside its locks.</summary>
    internal Action? AddDriver(RpmsgServiceDriver driver) => _nameService.AddDriver(driver);

    /// <summary>
    /// Registers <paramref name="driver"/> on every one of <paramref name="devices"/>, or on none: their locks are all held
    /// (in list order; nothing else holds two devices' locks) while each is checked and then given the driver, so an
    /// application's <see cref="RegisterDriver"/> of the same name on one of them comes wholly before this (which then
    /// registers nothing) or after it (and is refused). Returns the index of a device that has a driver for the name
    /// already (nothing registered), or -1 with what probes the pending announcements added to <paramref name="binds"/>,
    /// for the caller to run outside its locks.
    /// </summary>
    internal static int AddDriverToAll(IReadOnlyList<RpmsgDevice> devices, RpmsgServiceDriver driver, List<Action> binds)
    {
        int entered = 0;
        try
        {
            while (entered < devices.Count)
            {
                Monitor.Enter(devices[entered]._sync);
                entered++;
            }
            for (int i = 0; i < devices.Count; i++)
            {
                if (devices[i].HasDriver(driver.ServiceName))
                    return i;
            }
            foreach (var device in devices)
            {
                if (device.AddDriver(driver) is { } bind)
                    binds.Add(bind);
            }
            return -1;
        }
        finally
        {
            while (entered > 0)
                Monitor.Exit(devices[--entered]._sync);
        }
    }

    /// <summary>True when a driver for <paramref name="serviceName"/> is registered on this device.</summary>
    internal bool HasDriver(string serviceName) => _nameService.HasDriver(serviceName);

    /// <summary>
    /// A channel is ready: its Probe succeeded and ChannelAdded was raised (what WaitForChannel waits for), on the probing
    /// thread. Raised at most once per channel, never for one whose Probe failed or that was removed during its probe.
    /// </summary>
    internal event Action<RpmsgChannel>? ChannelReady;

    internal void RaiseChannelReady(RpmsgChannel channel) => CounterSet.Raise(() => ChannelReady?.Invoke(channel));
}
