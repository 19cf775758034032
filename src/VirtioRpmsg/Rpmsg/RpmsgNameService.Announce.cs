using Microsoft.Extensions.Logging;

namespace VirtioRpmsg.Rpmsg;

// Our named endpoints' announcements: CREATE at link-up or creation, DESTROY at destroy or dispose.
internal sealed partial class RpmsgNameService
{
    /// <summary>Sends a create or destroy for one of our endpoints (best effort: a failure is logged).</summary>
    internal void Announce(string name, uint address, NameServiceFlags flags)
    {
        if (!_device.NameServiceEnabled)
            return;
        Span<byte> message = stackalloc byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(message);
        try
        {
            _device.Tx.Send(address, RpmsgAddress.NameService, message, _device.Options.SendTimeout, _device.StopToken);
        }
        catch (Exception e) when (e is RpmsgDeviceUnavailableException or OperationCanceledException or TimeoutException)
        {
            _counters.Log.LogWarning("rpmsg {Device}: name-service {Flags} of '{Name}' not sent: {Reason}", _device.Name, flags, name, e.Message);
        }
    }

    /// <summary>Marks a named endpoint whose CREATE the caller will send (<see cref="AnnounceCreate"/>); false if not due. Caller holds the device lock.</summary>
    internal static bool BeginAnnounce(RpmsgEndpoint ept)
    {
        if (ept.AnnounceState != RpmsgAnnounceState.NotAnnounced)
            return false;
        ept.AnnounceState = RpmsgAnnounceState.Announcing;
        return true;
    }

    /// <summary>Marks a named endpoint destroyed; true if the caller sends its DESTROY (its CREATE was sent). Caller holds the device lock.</summary>
    internal static bool Withdraw(RpmsgEndpoint ept)
    {
        // Announcing: the announcer sends the DESTROY after its CREATE (never before it), or nothing if it had not started,
        // and then frees the address (the caller leaves the endpoint published: AnnounceCreate).
        bool announced = ept.AnnounceState == RpmsgAnnounceState.Announced;
        ept.AnnounceState = RpmsgAnnounceState.Withdrawn;
        return announced;
    }

    /// <summary>Sends the CREATE of an endpoint <see cref="BeginAnnounce"/> marked, then its DESTROY if it was destroyed meanwhile.</summary>
    /// <remarks>
    /// A destroy that finds the CREATE under way leaves the endpoint's address to this announcer, which frees it only
    /// after the DESTROY: freed at once, a new endpoint of the same service could take it (the lowest free) and
    /// announce it before this CREATE and DESTROY, and the peer would withdraw that one.
    /// </remarks>
    internal void AnnounceCreate(RpmsgEndpoint ept)
    {
        bool withdrawn = false;
        try
        {
            lock (_sync)
            {
                withdrawn = ept.AnnounceState == RpmsgAnnounceState.Withdrawn;
                if (ept.AnnounceState != RpmsgAnnounceState.Announcing)
                    return; // destroyed before anything was sent: the peer never hears of it
            }
            Announce(ept.Name!, ept.Address, NameServiceFlags.Create);
            lock (_sync)
            {
                withdrawn = ept.AnnounceState == RpmsgAnnounceState.Withdrawn;
                if (!withdrawn)
                    ept.AnnounceState = RpmsgAnnounceState.Announced;
            }
            if (withdrawn)
                Announce(ept.Name!, ept.Address, NameServiceFlags.Destroy);
        }
        finally
        {
            if (withdrawn)
            {
                lock (_sync)
                    _endpoints.Remove(ept); // unless a Stop took it already
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
