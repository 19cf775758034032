using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// One fixed-size rpmsg buffer in shared memory, named by a small integer id that only this side
/// interprets (a pool index on the driver side, a descriptor head on the device side).
/// </summary>
internal readonly struct RpmsgBufferRef(int id, RegionHandle region, long offset, int length)
{
    /// <summary>Writes an rpmsg header and <paramref name="payload"/> into this tx buffer, through a lease.</summary>
    /// <exception cref="RegionClosedException">The pool was unmapped.</exception>
    internal void Fill(uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        using var lease = Region.Acquire();
        Fill(lease, source, destination, payload);
    }

    /// <summary>As <see cref="Fill(uint, uint, ReadOnlySpan{byte})"/>, through a lease of <see cref="Region"/> the caller holds.</summary>
    internal void Fill(in MappingLease lease, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        // Header and payload through the lease: aligned accesses only when the pool is Device memory.
        Span<byte> header = stackalloc byte[RpmsgHeader.Size];
        new RpmsgHeader(source, destination, 0, (ushort)payload.Length, 0).Write(header);
        lease.WriteBytes(Offset, header);
        lease.WriteBytes(Offset + RpmsgHeader.Size, payload);
    }

    internal int Id { get; } = id;
    internal RegionHandle Region { get; } = region;
    internal long Offset { get; } = offset;

    /// <summary>For a tx buffer: its capacity. For an rx buffer: the validated number of bytes the peer wrote.</summary>
    internal int Length { get; } = length;
}

/// <summary>
/// What the rpmsg layer needs from the two virtqueues, in either role. The driver role (host)
/// owns the pool and posts buffers; the device role (remote) uses the host's buffers.
/// Threads: every member may be called from any thread. Each implementation shares each of its two
/// queues through one <see cref="Virtio.SynchronizedVirtqueue{TQueue}"/> (a non-sleeping spin gate,
/// held for a few ring operations, never across a doorbell), so the tx methods serve many senders at
/// once and <see cref="ReturnRx"/> may come from a held buffer on any thread. The rx methods are meant
/// for the dispatcher: one thread draining in order keeps messages in order.
/// </summary>
internal interface IRpmsgTransport : IDisposable
{
    /// <summary>Size of every buffer, header included.</summary>
    int BufferSize { get; }

    /// <summary>
    /// Takes a free tx buffer; false at once if none is free, or if <paramref name="yieldTo"/> says a callback sender
    /// waits (looked at under the tx gate, with the take). Never blocks.
    /// </summary>
    bool TryAcquireTx(out RpmsgBufferRef buffer, RpmsgTxTurn? yieldTo = null);

    /// <summary>Hands a filled tx buffer (header + payload, <paramref name="length"/> bytes) to the peer; may kick.</summary>
    /// <remarks>False (nothing published, the buffer still the caller's) when <paramref name="owner"/> was destroyed: looked at
    /// under the tx gate, as <see cref="TrySendCopy"/> does (<see cref="FenceTx"/>).</remarks>
    bool SubmitTx(int id, int length, RpmsgEndpoint? owner = null);

    /// <summary>
    /// A copy send in one gate entry: takes a free tx buffer, writes the header and <paramref name="payload"/>,
    /// hands it to the peer; may kick. False at once (nothing written) when no tx buffer is free. One entry
    /// instead of <see cref="TryAcquireTx"/> + <see cref="SubmitTx"/>: on x86 every gate entry is a full fence
    /// that waits for the buffer's stores to reach the peer's cache, so two entries paid that wait twice.
    /// Also false when <paramref name="yieldTo"/> says a callback sender waits, or <paramref name="owner"/> was destroyed
    /// (both looked at in the same gate entry: <see cref="FenceTx"/>).
    /// </summary>
    bool TrySendCopy(uint source, uint destination, ReadOnlySpan<byte> payload, RpmsgTxTurn? yieldTo = null, RpmsgEndpoint? owner = null);

    /// <summary>
    /// Enters the tx gate once and leaves: a copy send that found its owner alive under the gate has published its
    /// message by then, and one that enters later sees the owner's destroyed flag stored before this call.
    /// </summary>
    void FenceTx();

    /// <summary>Returns an unused tx buffer (zero-copy send abandoned).</summary>
    void CancelTx(int id);

    /// <summary>Cheap check used to wake blocked senders.</summary>
    bool TxAvailable { get; }

    /// <summary>Ask the peer to signal when tx buffers come back (only while senders wait).</summary>
    void ArmTxNotifications(bool armed);

    /// <summary>
    /// True when the peer gives our tx buffers back without a kick whatever <see cref="ArmTxNotifications"/> asked
    /// (RPMsg-Lite in either role, unless built with RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION): a waiting sender must
    /// look again by itself (RpmsgTxPath).
    /// </summary>
    bool TxReturnsUnsignalled => false;

    /// <summary>
    /// True when the peer kicks for every message it sends whatever <see cref="DisableRxNotifications"/> asked
    /// (RPMsg-Lite's remote): the dispatcher thread is woken for each one anyway, so sleeping costs it no extra kick
    /// (RpmsgDispatcherThread does not spin ahead of a reader that has not taken its message yet).
    /// </summary>
    bool PeerKicksWhateverAsked => false;

    /// <summary>
    /// Takes the next received buffer; false if none. Dispatcher only. First gives back <paramref name="release"/> (a
    /// buffer taken before; -1 for none), unpublished, and when nothing is pending also publishes every buffer given
    /// back, as <see cref="FlushRx"/> does: a batch's gives and its last look share their gate entries (each a locked
    /// instruction on x86) instead of taking one each.
    /// </summary>
    bool TryReceive(int release, out RpmsgBufferRef buffer);

    /// <summary>Publishes released rx buffers and kicks the peer if it asked for it.</summary>
    void FlushRx();

    /// <summary>Gives one received buffer back and publishes it with any given back before (one gate entry, one lease), as <see cref="FlushRx"/> does.</summary>
    void ReturnRx(int id);

    /// <summary>
    /// Whether taking from the rx ring moves the notification event along (default true). Set by the ring's owner
    /// only, false for a spinning reader's poll beside a dispatcher that may sleep on the doorbell (RpmsgRxDispatcher).
    /// </summary>
    bool RxFollowsEvent { get; set; }

    /// <summary>
    /// Cheap check for pollers. When true, the next message's buffer is on its way into this core's cache (a read
    /// prefetch): the take that follows would otherwise start that transfer only once it gets there.
    /// </summary>
    bool RxPending { get; }

    /// <summary>
    /// After a doorbell wake-up: starts bringing in the ring lines the coming take, buffer release and send touch (both
    /// queues' indices, their next elements, the peer's event fields). Each was last written by the peer's core; one
    /// after the other, their transfers were most of a woken side's time. Writes nothing, never throws.
    /// </summary>
    void PrefetchAfterWake();

    /// <summary>Suppress rx notifications while the dispatcher is awake.</summary>
    void DisableRxNotifications();

    /// <summary>Re-enable rx notifications before sleeping; false when work arrived meanwhile (re-check).</summary>
    bool EnableRxNotifications();
}
