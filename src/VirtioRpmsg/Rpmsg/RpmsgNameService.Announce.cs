using Microsoft.Extensions.Logging;

namespace VirtioRpmsg.Rpmsg;

// Our named endpoints' announcements: CREATE at link-up or creation, DESTROY at destroy or dispose.
internal sealed partial class RpmsgNameService
{
    /// <summary>Sends a create or destroy for one of our endpoints (best effort: a failure is logged); true if it went out.</summary>
    internal bool Announce(string name, uint address, NameServiceFlags flags)
    {
        var wait = _device.Options.SendTimeout;
        return Announce(name, address, flags, null, ref wait, default, out _);
    }

    /// <summary>
    /// As <see cref="Announce(string, uint, NameServiceFlags)"/>, waiting up to <paramref name="wait"/> for a tx buffer,
    /// which becomes zero if it timed out: the link-up's later messages then only try (the peer returns no buffer).
    /// </summary>
    internal bool Announce(string name, uint address, NameServiceFlags flags, ref TimeSpan wait, CancellationToken cancellationToken) =>
        Announce(name, address, flags, null, ref wait, cancellationToken, out _);

    /// <summary>
    /// As <see cref="Announce(string, uint, NameServiceFlags, ref TimeSpan, CancellationToken)"/>, for <paramref name="owner"/>:
    /// <paramref name="refused"/> if refused because it was destroyed (nothing went out; a wait for a tx buffer ends at the destroy).
    /// </summary>
    private bool Announce(string name, uint address, NameServiceFlags flags, RpmsgEndpoint? owner, ref TimeSpan wait, CancellationToken cancellationToken, out bool refused)
    {
        refused = false;
        if (!_device.NameServiceEnabled)
            return true;
        Span<byte> message = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(message);
        try
        {
            _device.Tx.Send(address, RpmsgAddress.NameService, message, wait, cancellationToken.CanBeCanceled ? cancellationToken : _device.StopToken, owner);
            return true;
        }
        catch (Exception e) when (owner is { IsDestroyed: true } && e is ObjectDisposedException or OperationCanceledException)
        {
            // Its destroy ended the wait (cancelled it, see WaitForCreateSent): a cancelled wait took no buffer.
            refused = true;
        }
        catch (Exception e) when (e is RpmsgDeviceUnavailableException or OperationCanceledException or TimeoutException)
        {
            if (e is TimeoutException)
                wait = TimeSpan.Zero;
            _counters.Log.LogWarning("rpmsg {Device}: name-service {Flags} of '{Name}' not sent: {Reason}", _device.Name, flags, name, e.Message);
        }
        return false;
    }

    /// <summary>Marks a named endpoint whose CREATE the caller will send (<see cref="AnnounceCreate(RpmsgEndpoint)"/>); false if not due. Caller holds the device lock.</summary>
    internal static bool BeginAnnounce(RpmsgEndpoint ept)
    {
        if (ept.AnnounceState != RpmsgAnnounceState.NotAnnounced)
            return false;
        ept.AnnounceState = RpmsgAnnounceState.Announcing;
        return true;
    }

    /// <summary>
    /// Marks a named endpoint destroyed; true if the caller sends its DESTROY: the driver may hold a channel for it
    /// (<paramref name="peerHolds"/>: its CREATE went out, or an earlier device's on the same driver did). Caller holds
    /// the device lock, and no CREATE of it is being sent (<see cref="WaitForCreateSent"/>).
    /// </summary>
    internal static bool Withdraw(RpmsgEndpoint ept, bool peerHolds)
    {
        // Withdrawn once the caller's DESTROY went out (or failed) and it left the table; a stop before that records it.
        ept.AnnounceState = peerHolds ? RpmsgAnnounceState.Withdrawing : RpmsgAnnounceState.Withdrawn;
        return peerHolds;
    }

    /// <summary>
    /// A destroyed named endpoint whose CREATE is in the tx path: waits until that send ended, refused (the endpoint is
    /// destroyed: a wait for a tx buffer ends at once) or on the ring before the destroy's tx fence. Caller holds the
    /// device lock.
    /// </summary>
    /// <remarks>
    /// The destroy then sends the DESTROY of a CREATE that went out, while the address is still ours, and frees the
    /// address before Dispose returns, as for any named endpoint. It used to leave both to the announcer, and the
    /// address stayed taken after Dispose until the CREATE and the DESTROY had gone out (up to two send timeouts).
    /// </remarks>
    internal void WaitForCreateSent(RpmsgEndpoint ept)
    {
        // Not on the announcer's own thread (code it runs inside the send): that send, not past its take yet, is refused
        // now that the endpoint is destroyed (the take looks under the tx gate), so nothing went out.
        if (ept.AnnounceState != RpmsgAnnounceState.Sending || ept.AnnouncerThread == Environment.CurrentManagedThreadId)
            return;
        // A sender inside a receive callback (the dispatcher thread: a CREATE at link-up, or an endpoint created in a
        // callback) waits on the doorbell, which the destroy's tx signal does not wake: it slept out IdleRecheckInterval.
        // Cancelled, it ends now. Under the lock: the callbacks it runs only wake waiters (leaf locks, an fd write).
        ept.AnnounceCancel?.Cancel();
        while (ept.AnnounceState == RpmsgAnnounceState.Sending)
            Monitor.Wait(_sync);
    }

    /// <summary>Sends the CREATE of an endpoint <see cref="BeginAnnounce"/> marked, unless it was destroyed first.</summary>
    /// <remarks>
    /// A destroy meanwhile waits for this send (<see cref="WaitForCreateSent"/>), which it ends if the CREATE is still
    /// waiting for a tx buffer: the destroy sends the DESTROY if the CREATE went out, and frees the address.
    /// </remarks>
    internal void AnnounceCreate(RpmsgEndpoint ept)
    {
        var wait = _device.Options.SendTimeout;
        AnnounceCreate(ept, ref wait);
    }

    /// <summary>As <see cref="AnnounceCreate(RpmsgEndpoint)"/>, waiting up to <paramref name="wait"/> (zero once it timed out: link-up).</summary>
    internal void AnnounceCreate(RpmsgEndpoint ept, ref TimeSpan wait)
    {
        // Linked to nothing (the tx path watches the device's stop itself), so never disposed: it holds no registration.
        var cancel = new CancellationTokenSource();
        bool held;
        lock (_sync)
        {
            if (ept.AnnounceState != RpmsgAnnounceState.Announcing)
                return; // destroyed before anything was sent: the peer never hears of it
            ept.AnnounceState = RpmsgAnnounceState.Sending;
            ept.AnnouncerThread = Environment.CurrentManagedThreadId;
            ept.AnnounceCancel = cancel;
            held = _device.HoldAnnouncement(ept.Name!, ept.Address); // from here the driver may have it
        }
        bool sent = false, refused = false;
        try
        {
            sent = Announce(ept.Name!, ept.Address, NameServiceFlags.Create, ept, ref wait, cancel.Token, out refused);
        }
        finally
        {
            lock (_sync)
            {
                // Refused: the destroy waiting for this finds nothing announced and sends no DESTROY.
                ept.AnnounceState = refused ? RpmsgAnnounceState.Withdrawn : RpmsgAnnounceState.Announced;
                if (!sent && !held)
                    _device.ForgetAnnouncement(ept.Name!, ept.Address); // nothing went out, and the driver had no channel before
                ept.AnnouncerThread = 0;
                ept.AnnounceCancel = null;
                Monitor.PulseAll(_sync);
            }
        }
    }

    /// <summary>Dispose-time destroys of the announced endpoints: never blocking, stop at the first refusal.</summary>
    internal void AnnounceDestroyAllNonBlocking()
    {
        Span<byte> message = stackalloc byte[NameServiceMessage.Size];
        foreach (var ept in _endpoints.Named())
        {
            // Read without the lock: best effort, as the whole dispose-time send is.
            if (ept.AnnounceState != RpmsgAnnounceState.Announced)
                continue;
            new NameServiceMessage(ept.Name!, ept.Address, NameServiceFlags.Destroy).Write(message);
            try
            {
                _device.Tx.TrySend(ept.Address, RpmsgAddress.NameService, message);
            }
            catch (RpmsgDeviceUnavailableException)
            {
                break;
            }
        }
    }
}
