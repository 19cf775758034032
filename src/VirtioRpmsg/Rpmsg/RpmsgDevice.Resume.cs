namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A device resumed on the rings of a driver that lives on (vhost-user SET_VRING_BASE after GET_VRING_BASE): the driver
/// still has the channels the last device announced. Those the new device does not serve at the same address are
/// withdrawn at link-up, before the new device's announcements: a driver only refuses an announcement of the same
/// name and address (Linux's virtio_rpmsg_bus, our host role), so a service that moved would be a second channel, the
/// first one bound to an address nothing serves.
/// </summary>
public sealed partial class RpmsgDevice
{
    /// <summary>The named endpoints whose CREATE had gone out (or was going out) when the device stopped: what the driver
    /// knows of this device (private state, recorded by <see cref="Stop"/>).</summary>
    internal (string Name, uint Address)[] AnnouncedAtStop { get; private set; } = [];

    /// <summary>Set before <see cref="Start"/>: what an earlier device on the same live driver had announced.</summary>
    internal (string Name, uint Address)[] WithdrawAtLinkUp { get; set; } = [];

    // Under _sync, at link-up: the earlier announcements no endpoint of this device repeats.
    private (string Name, uint Address)[] StaleAnnouncements()
    {
        var named = _endpoints.Named();
        return [.. WithdrawAtLinkUp.Where(s => !named.Any(e => e.Name == s.Name && e.Address == s.Address)).Distinct()];
    }

    // Under _sync, as the device stops.
    private void RecordAnnounced() => AnnouncedAtStop = [.. _endpoints.Named()
        .Where(e => e.AnnounceState is RpmsgAnnounceState.Announced or RpmsgAnnounceState.Sending).Select(e => (e.Name!, e.Address))];
}
