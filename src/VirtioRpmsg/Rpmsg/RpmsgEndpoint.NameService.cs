namespace VirtioRpmsg.Rpmsg;

/// <summary>Where a named endpoint's announcement stands. Changed only under the device's lock.</summary>
internal enum RpmsgAnnounceState
{
    /// <summary>Created before link-up: GoLive announces it.</summary>
    NotAnnounced,
    /// <summary>Its CREATE is due (GoLive or CreateNamedEndpoint marked it) and not started: a destroy now means none is sent.</summary>
    Announcing,
    /// <summary>Its CREATE is in the tx path: a destroy waits for that send (RpmsgNameService.WaitForCreateSent).</summary>
    Sending,
    /// <summary>Its CREATE was sent: a destroy sends the DESTROY.</summary>
    Announced,
    /// <summary>Destroyed, its DESTROY being sent: the peer may still have it (a stop now records it, RpmsgDevice.Resume.cs).</summary>
    Withdrawing,
    /// <summary>Destroyed: nothing more is sent for it.</summary>
    Withdrawn,
}

/// <summary>A named endpoint and the name service: its announcement, and the peer's announcements of the same name.</summary>
public sealed partial class RpmsgEndpoint
{
    /// <summary>Guarded by the device's lock (RpmsgNameService.BeginAnnounce, AnnounceCreate, Withdraw).</summary>
    internal RpmsgAnnounceState AnnounceState { get; set; }

    /// <summary>The thread sending its CREATE while <see cref="AnnounceState"/> is Sending. Guarded by the device's lock.</summary>
    internal int AnnouncerThread { get; set; }

    /// <summary>
    /// Cancels the CREATE's wait for a tx buffer while <see cref="AnnounceState"/> is Sending (a destroy waiting for that
    /// send ends it: a callback sender waits on the doorbell, which the destroy's tx signal does not wake). Guarded by the
    /// device's lock.
    /// </summary>
    internal CancellationTokenSource? AnnounceCancel { get; set; }

    /// <summary>
    /// The peer announced our name at <paramref name="address"/> (OpenAMP rpmsg_virtio_ns_callback sets dest_addr):
    /// an endpoint that does not know its remote yet learns it now, as from a first message, and waiting senders go.
    /// </summary>
    internal void BindByName(uint address) => LearnRemoteAddress(address);

    /// <summary>
    /// The peer withdrew our name at <paramref name="address"/> (OpenAMP resets dest_addr to ANY): a learned remote
    /// address equal to it is forgotten, so sends wait for the next announcement or message instead of going to a dead
    /// address. An address the application gave at creation is left alone.
    /// </summary>
    internal void UnbindByName(uint address)
    {
        if (!_remoteGiven)
            Interlocked.CompareExchange(ref _remoteAddress, RpmsgAddress.Any, address);
    }
}
