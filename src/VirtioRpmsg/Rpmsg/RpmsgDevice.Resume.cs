using Microsoft.Extensions.Logging;

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
/// The driver keeps a channel until a DESTROY reaches it, whichever device sends it: so the device tracks what the driver
/// may hold (_held). An endpoint served again and disposed before its own CREATE went out is withdrawn (the driver has
/// the earlier device's channel); a withdrawal the stop cut short is recorded for the next device, once per service and
/// at most MaxEndpoints of them, so a driver that never returns a buffer cannot make the list grow across stops.
/// </remarks>
public sealed partial class RpmsgDevice
{
    private List<(string Name, uint Address)>? _withdrawals; // under _sync: the withdrawals not started yet
    private (string Name, uint Address)? _withdrawing;       // under _sync: the one being sent, by _withdrawer
    private int _withdrawer;
    private CancellationTokenSource? _withdrawCancel;
    // Under _sync, from link-up: the services the driver may hold a channel for (ours whose CREATE went out or was going
    // out, an earlier device's not withdrawn yet), oldest first; one entry each, at most MaxEndpoints (TrimHeld).
    private List<(string Name, uint Address)>? _held;

    /// <summary>What the driver may still hold a channel for when the device stopped: its CREATEs that went out (or were
    /// going out) and were not withdrawn, an earlier device's announcements whose DESTROY did not go out (private state,
    /// recorded by <see cref="Stop"/>; before link-up, <see cref="WithdrawAtLinkUp"/> as it was given).</summary>
    internal (string Name, uint Address)[] AnnouncedAtStop { get; private set; } = [];

    /// <summary>Set before <see cref="Start"/>: what an earlier device on the same live driver had announced.</summary>
    internal (string Name, uint Address)[] WithdrawAtLinkUp { get; set; } = [];

    // Under _sync, at link-up: the driver holds what the earlier device announced; those no endpoint of this device
    // repeats are withdrawn.
    private void BeginWithdrawals()
    {
        _held = [.. WithdrawAtLinkUp.Distinct()];
        var named = _endpoints.Named();
        if (_held.Count > 0)
            _withdrawals = [.. _held.Where(s => !named.Any(e => e.Name == s.Name && e.Address == s.Address))];
        TrimHeld(); // each is tried all the same
    }

    // After link-up: the withdrawals, then this device's CREATEs. On the dispatcher (or a Poll), which delivers nothing
    // meanwhile: once one has waited a whole send timeout (never infinite here) for a buffer, the rest only try, so a
    // peer that returns none holds it once, not once per message.
    private void SendLinkUpAnnouncements(List<RpmsgEndpoint> toAnnounce)
    {
        var linkUpWait = Options.SendTimeout == Timeout.InfiniteTimeSpan ? Options.LinkUpAnnounceLimit : Options.SendTimeout;
        var wait = linkUpWait;
        SendWithdrawals(ref wait); // first, so a service that moved ends up announced
        foreach (var ept in toAnnounce)
            _nameService.AnnounceCreate(ept, ref wait);
        if (wait != linkUpWait)
            CounterSet.Log.LogWarning("rpmsg {Device}: the peer returned no rx buffer within {Timeout} ms at link-up; the rest of the name-service messages were only tried (those not sent are logged)",
                Name, linkUpWait.TotalMilliseconds);
    }

    // After link-up, before this device's CREATEs: one DESTROY per withdrawal still due (waiting as GoLive says).
    private void SendWithdrawals(ref TimeSpan wait)
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
            bool sent = false;
            try
            {
                sent = _nameService.Announce(next.Name, next.Address, NameServiceFlags.Destroy, ref wait, cancel.Token);
            }
            finally
            {
                lock (_sync)
                {
                    // Not sent (no buffer came, the device stopped): the driver still has it, for the next device. Sent, and
                    // served again meanwhile (created inside this send): the new endpoint's CREATE holds it.
                    if (sent && !_endpoints.Named().Any(e => e.Name == next.Name && e.Address == next.Address))
                        _held?.Remove(next);
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

    /// <summary>Under the lock, as a CREATE starts: the driver may have (name, address) from now on; true if it may have had it already.</summary>
    internal bool HoldAnnouncement(string name, uint address)
    {
        _held ??= [];
        bool had = _held.Remove((name, address));
        _held.Add((name, address)); // the newest: trimmed last
        TrimHeld();
        return had;
    }

    /// <summary>Under the lock: the driver no longer has (name, address) (its DESTROY went out, or its CREATE did not).</summary>
    internal void ForgetAnnouncement(string name, uint address) => _held?.Remove((name, address));

    /// <summary>Under the lock, after <see cref="RpmsgNameService.WaitForCreateSent"/>: a destroyed endpoint's DESTROY is due.</summary>
    private bool PeerHolds(string name, uint address) => _held?.Contains((name, address)) == true;

    // Under _sync: a driver that takes no DESTROY must not make the list grow for ever across stops (one entry per service,
    // and at most MaxEndpoints): the oldest entries no endpoint serves go first (that driver keeps those channels).
    private void TrimHeld()
    {
        int over = _held!.Count - Options.MaxEndpoints;
        if (over <= 0)
            return;
        var named = _endpoints.Named();
        int forgotten = _held.RemoveAll(s => !named.Any(e => e.Name == s.Name && e.Address == s.Address) && over-- > 0);
        CounterSet.Log.LogWarning("rpmsg {Device}: the driver may still have {Count} more withdrawn service(s) than MaxEndpoints ({Max}): the oldest are forgotten",
            Name, forgotten, Options.MaxEndpoints);
    }

    // Under _sync, as the device stops.
    private void RecordAnnounced() => AnnouncedAtStop = _held is null ? [.. WithdrawAtLinkUp.Distinct().TakeLast(Options.MaxEndpoints)] : [.. _held];
}
