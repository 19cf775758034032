using Microsoft.Extensions.Logging;

namespace VirtioRpmsg.Rpmsg;

// Our named endpoints' announcements: CREATE at link-up or creation, DESTROY at destroy or dispose.
internal sealed partial class RpmsgNameService
{
    /// <summary>Sends a create or destroy for one of our endpoints (best effort: a failure is logged).</summary>
    internal void Announce(string name, uint address, NameServiceFlags flags, CancellationToken cancellationToken = default) =>
        Announce(name, address, flags, null, cancellationToken);

    /// <summary>
    /// As <see cref="Announce(string, uint, NameServiceFlags, CancellationToken)"/>, for <paramref name="owner"/>: false if refused because it
    /// was destroyed (nothing went out; a wait for a tx buffer ends at the destroy), true otherwise.
    /// </summary>
    private bool Announce(string name, uint address, NameServiceFlags flags, RpmsgEndpoint? owner, CancellationToken cancellationToken = default)
    {
        if (!_device.NameServiceEnabled)
            return true;
        Span<byte> message = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(message);
        try
        {
            _device.Tx.Send(address, RpmsgAddress.NameService, message, _device.Options.SendTimeout,
                cancellationToken.CanBeCanceled ? cancellationToken : _device.StopToken, owner);
        }
        catch (Exception e) when (owner is { IsDestroyed: true } && e is ObjectDisposedException or OperationCanceledException)
        {
            // Its destroy ended the wait (cancelled it, see WaitForCreateSent): a cancelled wait took no buffer.
            return false;
        }
        catch (Exception e) when (e is RpmsgDeviceUnavailableException or OperationCanceledException or TimeoutException)
        {
            _counters.Log.LogWarning("rpmsg {Device}: name-service {Flags} of '{Name}' not sent: {Reason}", _device.Name, flags, name, e.Message);
        }
        return true;
    }

    /// <summary>Marks a named endpoint whose CREATE the caller will send (<see cref="AnnounceCreate"/>); false if not due. Caller holds the device lock.</summary>
    internal static bool BeginAnnounce(RpmsgEndpoint ept)
    {
        if (ept.AnnounceState != RpmsgAnnounceState.NotAnnounced)
            return false;
        ept.AnnounceState = RpmsgAnnounceState.Announcing;
        return true;
    }

    /// <summary>Marks a named endpoint destroyed; true if the caller sends its DESTROY (its CREATE was sent). Caller holds the device lock, and no CREATE of it is being sent (<see cref="WaitForCreateSent"/>).</summary>
    internal static bool Withdraw(RpmsgEndpoint ept)
    {
        bool announced = ept.AnnounceState == RpmsgAnnounceState.Announced;
        // Withdrawn once the caller's DESTROY went out (or failed) and it left the table; a stop before that records it.
        ept.AnnounceState = announced ? RpmsgAnnounceState.Withdrawing : RpmsgAnnounceState.Withdrawn;
        return announced;
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
        // Linked to nothing (the tx path watches the device's stop itself), so never disposed: it holds no registration.
        var cancel = new CancellationTokenSource();
        lock (_sync)
        {
            if (ept.AnnounceState != RpmsgAnnounceState.Announcing)
                return; // destroyed before anything was sent: the peer never hears of it
            ept.AnnounceState = RpmsgAnnounceState.Sending;
            ept.AnnouncerThread = Environment.CurrentManagedThreadId;
            ept.AnnounceCancel = cancel;
        }
        bool sent = true;
        try
        {
            sent = Announce(ept.Name!, ept.Address, NameServiceFlags.Create, ept, cancel.Token);
        }
        finally
        {
            lock (_sync)
            {
                // Refused: the destroy waiting for this finds nothing announced and sends no DESTROY.
                ept.AnnounceState = sent ? RpmsgAnnounceState.Announced : RpmsgAnnounceState.Withdrawn;
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
