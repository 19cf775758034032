namespace VirtioRpmsg.Platform;

/// <summary>
/// One doorbell between this side and the peer, in both directions: ring the peer, wait for the
/// peer to ring us, drain pending rings. Implementations: eventfd pair, Unix-domain socket,
/// UIO interrupt + mailbox register, and polling (no doorbell at all).
/// </summary>
public interface IDoorbell : IDisposable
{
    /// <summary>
    /// Signals the peer. Never blocks and never allocates (seed 001: it may run where sleeping is
    /// impossible). Returns false when the signal could not be delivered right now (the peer's end
    /// is full, which means it already has signals pending, or the peer is gone); the caller's data
    /// is already in shared memory, so nothing is lost either way.
    /// </summary>
    bool Ring();

    /// <summary>
    /// As <see cref="Ring()"/>, for a kick of vring <paramref name="vring"/> of the vdev (0: the host's receive ring,
    /// 1: its transmit ring). A doorbell whose signal can name the vring (a mailbox word or channel, as Linux's
    /// remoteproc drivers send) does so; the others ring as <see cref="Ring()"/>. Never blocks, never allocates.
    /// </summary>
    bool Ring(int vring) => Ring();

    /// <summary>
    /// Waits until the peer rings or <paramref name="timeout"/> passes; consumes the ring(s).
    /// Returns true if rung, false on timeout. Throws <see cref="OperationCanceledException"/> on
    /// cancellation and <see cref="Memory.LeaseHeldException"/> if the calling thread holds a mapping lease.
    /// A waiter must re-check shared memory after it returns either way: doorbells may be lost or spurious.
    /// </summary>
    bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Consumes any pending rings without waiting; true if there were any.</summary>
    bool Drain();
}
