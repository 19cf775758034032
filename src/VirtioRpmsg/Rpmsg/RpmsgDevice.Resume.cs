namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A device resumed on the rings of a driver that lives on (vhost-user SET_VRING_BASE after GET_VRING_BASE): the driver
/// still has the channels the last device announced. Those the new device does not serve at the same address are
/// withdrawn at link-up, before the new device's announcements: a driver only refuses an announcement of the same
/// name and address (Linux's virtio_rpmsg_bus, our host role), so a service that moved would be a second channel, the
/// first one bound to an address nothing serves.
/// </summary>
/// <remarks>
/// The withdrawals go out after link-up, outside the lock: a named endpoint created meanwhile (in a StateChanged handler,
/// by a thread that waited for link-up) at a withdrawn name and address serves that service again. Its withdrawal is
/// dropped if not sent yet, and a withdrawal being sent ends (cancelled: it goes out or not) before its CREATE goes out;
/// sent after that CREATE, the DESTROY would take away the channel it serves.
/// </remarks>
public sealed partial class RpmsgDevice
{
    private List<(string Name, uint Address)>? _withdrawals; // under _sync: the withdrawals not started yet
    private (string Name, uint Address)? _withdrawing;       // under _sync: the one being sent, by _withdrawer
    private int _withdrawer;
    private CancellationTokenSource? _withdrawCancel;

    /// <summary>The named endpoints whose CREATE had gone out (or was going out) when the device stopped: what the driver
    /// knows of this device (private state, recorded by <see cref="Stop"/>).</summary>
    internal (string Name, uint Address)[] AnnouncedAtStop { get; private set; } = [];

    /// <summary>Set before <see cref="Start"/>: what an earlier device on the same live driver had announced.</summary>
    internal (string Name, uint Address)[] WithdrawAtLinkUp { get; set; } = [];

    // Under _sync, at link-up: the earlier announcements no endpoint of this device repeats.
    private void BeginWithdrawals()
    {
        if (WithdrawAtLinkUp.Length == 0)
            return;
        var named = _endpoints.Named();
        _withdrawals = [.. WithdrawAtLinkUp.Where(s => !named.Any(e => e.Name == s.Name && e.Address == s.Address)).Distinct()];
    }

    // After link-up, before this device's CREATEs: one DESTROY per withdrawal still due.
    private void SendWithdrawals()
    {
        while (true)
        {
            (string Name, uint Address) next;
            CancellationTokenSource cancel;
            lock (_sync)
            {
                if (_withdrawals is not { Count: > 0 } due || _state != RpmsgDeviceState.Running) // stopped: none goes out
                {
                    _withdrawals = null;
                    return;
                }
                next = due[0];
                due.RemoveAt(0);
                cancel = new CancellationTokenSource(); // linked to nothing, so never disposed (as AnnounceCreate's)
                (_withdrawing, _withdrawer, _withdrawCancel) = (next, Environment.CurrentManagedThreadId, cancel);
            }
            try
            {
                _nameService.Announce(next.Name, next.Address, NameServiceFlags.Destroy, cancel.Token);
            }
            finally
            {
                lock (_sync)
                {
                    (_withdrawing, _withdrawer, _withdrawCancel) = (null, 0, null);
                    Monitor.PulseAll(_sync);
                }
            }
        }
    }

    // Under _sync, as a named endpoint is added: it serves (name, address) again, so that is not withdrawn, or its
    // withdrawal under way ends before this endpoint's CREATE can go out (not waited for on the withdrawing thread itself:
    // code run inside that send, whose wait the cancel ends).
    private void KeepAnnouncement(string name, uint address)
    {
        _withdrawals?.Remove((name, address));
        if (_withdrawing is not { } w || w.Name != name || w.Address != address)
            return;
        _withdrawCancel?.Cancel();
        if (_withdrawer == Environment.CurrentManagedThreadId)
            return;
        while (_withdrawing is { } now && now.Name == name && now.Address == address)
            Monitor.Wait(_sync);
    }

    // Under _sync, as the device stops. Withdrawing: its DESTROY may not have gone out (the stop ends its wait for a buffer).
    private void RecordAnnounced() => AnnouncedAtStop = [.. _endpoints.Named()
        .Where(e => e.AnnounceState is RpmsgAnnounceState.Announced or RpmsgAnnounceState.Sending or RpmsgAnnounceState.Withdrawing)
        .Select(e => (e.Name!, e.Address))];
}
