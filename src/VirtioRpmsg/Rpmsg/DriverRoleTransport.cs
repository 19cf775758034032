using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The host (virtio driver) side: owns the buffer pool. Rx buffers (first half of the pool) are
/// posted device-writable on vring 0; tx buffers (second half) are handed out from a private free
/// queue and posted readable on vring 1. Which buffer came back is decided by the queue's private
/// shadow (the token), never by anything the peer wrote.
/// </summary>
/// <remarks>
/// Threads: each queue is shared through one <see cref="SynchronizedVirtqueue{TQueue}"/> and nothing
/// else. The tx gate also guards the free queue, so any sender can take a buffer, reclaim returned ones
/// from the used ring, post and publish; the rx gate lets a held buffer be re-posted from any thread
/// while the dispatcher takes used buffers. Doorbells ring after the gate is released.
/// </remarks>
internal sealed partial class DriverRoleTransport : IRpmsgTransport
{
    private readonly SynchronizedVirtqueue<VirtqueueDriver> _rx;
    private readonly SynchronizedVirtqueue<VirtqueueDriver> _tx;
    private readonly IDoorbell _doorbell;
    private readonly RegionHandle _pool;
    private readonly long _poolOffset;
    private readonly ulong _poolAddress;
    private readonly int _rxCount;
    // The free tx buffers, a circular FIFO queue: taken at _freeStart, returned behind the last. First in, first out
    // (with the vring's FIFO descriptor list) keeps a steady sender's k-th message in the same buffer, descriptor and
    // avail slot as its (k - num)-th, so those ring entries are not rewritten and their lines stay shared
    // (DriverRingShadow, DeviceRingShadow). Guarded by the tx gate; _freeCount is also read without it as a hint.
    private readonly int[] _freeTx;
    // vring 1 lies in the pool's region and mapping generation: a copy send fills and publishes through one lease.
    private readonly bool _ringInPool;
    private int _freeStart;
    private int _freeCount;

    // The vring each kick names (Linux's virtio_rpmsg_bus: rvq is vq0, svq vq1).
    internal const int RxVring = 0, TxVring = 1;

    internal DriverRoleTransport(RpmsgVdevLayout layout, bool eventIndex, string name, IDoorbell doorbell)
    {
        _doorbell = doorbell;
        BufferSize = layout.BufferSize;
        TxReturnsUnsignalled = layout.Conventions == RpmsgPeerConventions.RpmsgLite;
        var vringLayout = new VringLayout(layout.VringNum, layout.VringAlign);
        var rxq = new VirtqueueDriver(name + ".vq0", Vring.Place(layout.Memory, layout.Vring0Address, vringLayout), layout.Memory, eventIndex);
        var txq = new VirtqueueDriver(name + ".vq1", Vring.Place(layout.Memory, layout.Vring1Address, vringLayout), layout.Memory, eventIndex);
        (_pool, _poolOffset) = layout.Memory.Translate(layout.BufferPoolAddress, (ulong)layout.BufferCount * (ulong)layout.BufferSize);
        _poolAddress = layout.BufferPoolAddress;
        _rxCount = layout.BufferCount / 2;
        _freeTx = new int[layout.BufferCount - _rxCount];
        _ringInPool = SameMapping(txq.Vring.Region, _pool);
        for (int id = _rxCount; id < layout.BufferCount; id++)
            _freeTx[_freeCount++] = id;
        for (int id = 0; id < _rxCount; id++)
        {
            if (!rxq.TryAdd(Address(id), (uint)BufferSize, deviceWritable: true, token: id))
                throw new InvalidOperationException($"vring 0 has no room for rx buffer {id}");
        }
        rxq.KickPrepare();
        // Tx-returned notifications are armed only while a sender waits.
        txq.DisableInterrupts();
        // Shared from here on: every later call goes through a gate.
        _rx = new SynchronizedVirtqueue<VirtqueueDriver>(rxq);
        _tx = new SynchronizedVirtqueue<VirtqueueDriver>(txq);
    }

    public int BufferSize { get; }

    private static bool SameMapping(RegionHandle a, RegionHandle b) => a.Refers(b.Region) && a.Generation == b.Generation;

    private ulong Address(int id) => _poolAddress + (ulong)id * (ulong)BufferSize;

    private RpmsgBufferRef Buffer(int id, int length) => new(id, _pool, _poolOffset + (long)id * BufferSize, length);

    // ---- tx ------------------------------------------------------------------------------------

    public bool TryAcquireTx(out RpmsgBufferRef buffer, RpmsgTxTurn? yieldTo = null)
    {
        int id;
        using (var tx = _tx.Enter())
        {
            // The turn is looked at under the gate, with the take (RpmsgTxTurn).
            if (yieldTo is { ApplicationMustWait: true } || !TryTakeFree(tx.Queue, out id))
            {
                buffer = default;
                return false;
            }
        }
        buffer = Buffer(id, BufferSize);
        return true;
    }

    // Under the tx gate. Free queue first; when it is empty, reclaim what the peer returned (the used ring's one
    // consumer is whoever holds the gate) and try again.
    private bool TryTakeFree(VirtqueueDriver txq, out int id)
    {
        if (_freeCount == 0)
            Reclaim(txq);
        if (_freeCount == 0)
        {
            id = -1;
            return false;
        }
        id = _freeTx[_freeStart];
        _freeStart = Wrap(_freeStart + 1);
        _freeCount--;
        return true;
    }

    // Under the tx gate: adds the filled buffer and publishes it; true when the peer asked for a kick.
    private bool AddAndPublish(VirtqueueDriver txq, int id, int length)
    {
        if (!txq.TryAddPooledAndPublish(Address(id), (uint)length, deviceWritable: false, token: id, out bool kick))
            ThrowNoTxDescriptor(id);
        return kick;
    }

    // As AddAndPublish, through the pool lease the fill used when the ring lies in the same mapping (one lease less).
    private bool AddAndPublish(VirtqueueDriver txq, int id, int length, in MappingLease pool)
    {
        if (!_ringInPool)
            return AddAndPublish(txq, id, length);
        if (!txq.TryAddPooledAndPublish(Address(id), (uint)length, deviceWritable: false, token: id, out bool kick, pool))
            ThrowNoTxDescriptor(id);
        return kick;
    }

    // Under the tx gate, only when the queue is empty (TryTakeFree): the returned buffers go in from _freeStart on, in
    // the order the peer returned them, wrapping at the array's end; the queue has room for every tx buffer.
    private void Reclaim(VirtqueueDriver txq)
    {
        int n = ReclaimInto(txq, _freeTx.AsSpan(_freeStart));
        if (n == _freeTx.Length - _freeStart)
            n += ReclaimInto(txq, _freeTx.AsSpan(0, _freeStart));
        _freeCount = n;
    }

    // One lease for all the chains returned that fit in tokens.
    private int ReclaimInto(VirtqueueDriver txq, Span<int> tokens)
    {
        if (tokens.IsEmpty)
            return 0;
        int n = txq.TryGetUsedTokens(tokens);
        for (int i = 0; i < n; i++)
        {
            if ((uint)(tokens[i] - _rxCount) >= (uint)_freeTx.Length)
                ThrowForeignTxToken(tokens[i]);
        }
        return n;
    }

    public bool SubmitTx(int id, int length, RpmsgEndpoint? owner = null)
    {
        // The pool was translated once in the constructor; an id inside the tx half is inside it.
        if ((uint)(id - _rxCount) >= (uint)_freeTx.Length || (uint)length > (uint)BufferSize)
            ThrowNotTx(id, length);
        bool kick;
        using (var tx = _tx.Enter())
        {
            if (owner is { IsDestroyed: true })
                return false;
            kick = AddAndPublish(tx.Queue, id, length);
            // A zero-copy send holds no lease on the pool: a pool unmapped by now only goes without the hint.
            if (_pool.TryAcquire(out var pool))
            {
                using (pool)
                    PrefetchNextTxBuffers(pool, length);
            }
        }
        if (kick)
            _doorbell.Ring(TxVring);
        return true;
    }

    /// <summary>How many free tx buffers a send prefetches ahead (<see cref="PrefetchNextTxBuffers"/>).</summary>
    internal const int PrefetchAheadBuffers = 2;

    // Under the tx gate, after a publication. The peer's cache read a returned tx buffer last, so the first store
    // into each of its lines must take the line over from the far core, and a fence waits for that transfer: one per
    // message in a stream. A write prefetch of the lines a message of this size covers in the next free buffers starts
    // those transfers now, without a store any fence would wait for; the next sends find their lines here
    // (docs/memory-ordering.md). After this publication, so the peer does not wait for it. Nothing is written, and it
    // never throws (the message is already sent). length <= BufferSize (SubmitTx checks it; a copy's payload was
    // checked against MaxPayload), so every line is inside its buffer.
    private void PrefetchNextTxBuffers(in MappingLease pool, int length)
    {
        int buffers = Math.Min(PrefetchAheadBuffers, _freeCount);
        for (int k = 0; k < buffers; k++)
            pool.PrefetchForWrite(_poolOffset + (long)_freeTx[Wrap(_freeStart + k)] * BufferSize, length);
    }

    public bool TrySendCopy(uint source, uint destination, ReadOnlySpan<byte> payload, RpmsgTxTurn? yieldTo = null, RpmsgEndpoint? owner = null)
    {
        int length = RpmsgHeader.Size + payload.Length;
        bool kick;
        using (var tx = _tx.Enter())
        {
            if (yieldTo is { ApplicationMustWait: true } || owner is { IsDestroyed: true } || !TryTakeFree(tx.Queue, out int id))
                return false;
            MappingLease lease;
            try
            {
                lease = _pool.Acquire();
            }
            catch
            {
                // Unmapped, or no lease for this thread: the buffer goes back to the free list, never lost.
                PutBackFirst(id);
                throw;
            }
            // One lease for the fill and, after the publication, the prefetch.
            using (lease)
            {
                Buffer(id, BufferSize).Fill(lease, source, destination, payload);
                kick = AddAndPublish(tx.Queue, id, length, lease);
                PrefetchNextTxBuffers(lease, length);
            }
        }
        if (kick)
            _doorbell.Ring(TxVring);
        return true;
    }

    public void FenceTx()
    {
        using var tx = _tx.Enter(); // a pass through the gate: the holder before us has left it
    }

    public void CancelTx(int id)
    {
        if ((uint)(id - _rxCount) >= (uint)_freeTx.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"tx buffer {id} is not a tx buffer of this pool");
        using var tx = _tx.Enter();
        // Every tx buffer already free: this one was cancelled twice (a second copy would go to two senders).
        if (_freeCount == _freeTx.Length)
            throw new InvalidOperationException($"tx buffer {id} cancelled while every tx buffer is free (cancelled twice?)");
        PutBackFirst(id);
    }

    // Under the tx gate: an untaken buffer goes back where it was taken from, the front of the queue.
    private void PutBackFirst(int id)
    {
        _freeStart = Wrap(_freeStart - 1 + _freeTx.Length);
        _freeTx[_freeStart] = id;
        _freeCount++;
    }

    // A position in the circular free queue, given at most one lap past the array's end.
    private int Wrap(int at) => at >= _freeTx.Length ? at - _freeTx.Length : at;

    public bool TxAvailable
    {
        get
        {
            if (Volatile.Read(ref _freeCount) > 0)
                return true;
            using var tx = _tx.Enter();
            return _freeCount > 0 || tx.Queue.HasUsed;
        }
    }

    // RPMsg-Lite's remote puts our consumed tx buffers on vring 1's used ring and kicks nobody.
    public bool TxReturnsUnsignalled { get; }

    // RPMsg-Lite's remote kicks for every message it sends, NO_INTERRUPT or not (docs/interop.md).
    public bool PeerKicksWhateverAsked => TxReturnsUnsignalled;

    public void ArmTxNotifications(bool armed)
    {
        using var tx = _tx.Enter();
        if (armed)
            tx.Queue.EnableInterrupts();
        else
            tx.Queue.DisableInterrupts();
    }

    // ---- rx ------------------------------------------------------------------------------------

    public bool TryReceive(int release, out RpmsgBufferRef buffer)
    {
        int token;
        uint length;
        bool found, kick;
        using (var rx = _rx.Enter())
        {
            found = release != -1
                ? Repost(rx.Queue, release, out token, out length, out kick)
                : rx.Queue.TryGetUsedOrPublish(out token, out length, out kick);
        }
        if (kick)
            _doorbell.Ring(RxVring);
        if (!found)
        {
            buffer = default;
            return false;
        }
        if ((uint)token >= (uint)_rxCount)
            ThrowForeignRxToken(token);
        buffer = Buffer(token, (int)length);
        return true;
    }

    private void CheckRx(int id)
    {
        if ((uint)id >= (uint)_rxCount)
            ThrowNotRx(id);
    }

    // Under the rx gate: gives buffer id back, then takes the next used one, in one step (one lease). Not published
    // while a take follows: the take that finds nothing (or FlushRx, ReturnRx) publishes the batch with one index store.
    private bool Repost(VirtqueueDriver vq0, int id, out int token, out uint length, out bool kick)
    {
        CheckRx(id);
        bool found = vq0.TryAddPooledThenGetUsedOrPublish(Address(id), (uint)BufferSize, deviceWritable: true, token: id, out bool added, out token, out length, out kick);
        if (!added)
            ThrowNoRxRoom(id);
        return found;
    }

    public void FlushRx()
    {
        bool kick;
        using (var rx = _rx.Enter())
            kick = rx.Queue.KickPrepare();
        if (kick)
            _doorbell.Ring(RxVring);
    }

    public void ReturnRx(int id)
    {
        CheckRx(id);
        bool kick;
        using (var rx = _rx.Enter())
        {
            // Published together with anything given back before (TryReceive's release).
            if (!rx.Queue.TryAddPooledAndPublish(Address(id), (uint)BufferSize, deviceWritable: true, token: id, out kick))
                ThrowNoRxRoom(id);
        }
        if (kick)
            _doorbell.Ring(RxVring);
    }

    // The queue's own flag: only the rx ring's owner sets it, and only that owner's takes (TryReceive) read it, so no gate.
    public bool RxFollowsEvent
    {
        get => _rx.Unsynchronized.FollowsEvent;
        set => _rx.Unsynchronized.FollowsEvent = value;
    }

    public bool RxPending
    {
        get
        {
            // The take that follows reads the buffer first: its lines start over from the far core now, while the poller
            // gets there. A hint: a token the take would refuse is skipped, and so is a pool no longer mapped. One lease
            // for the look and the prefetch when the pool lies in the ring's mapping.
            using var rx = _rx.Enter();
            return rx.Queue.PeekUsedThenPrefetch(_pool, _poolOffset, BufferSize, _rxCount);
        }
    }

    public void PrefetchAfterWake()
    {
        _rx.Unsynchronized.PrefetchNextLines();
        _tx.Unsynchronized.PrefetchNextLines();
    }

    public void DisableRxNotifications()
    {
        using var rx = _rx.Enter();
        rx.Queue.DisableInterrupts();
    }

    public bool EnableRxNotifications()
    {
        using var rx = _rx.Enter();
        return rx.Queue.EnableInterrupts();
    }

    public void Dispose()
    {
    }

    /// <summary>Descriptors and avail entries of queue <paramref name="queue"/> (0 or 1) not rewritten because the ring held them already (diagnostics).</summary>
    internal long RingWritesSkipped(int queue)
    {
        using var scope = (queue == 0 ? _rx : _tx).Enter();
        return scope.Queue.RingWritesSkipped;
    }

    public override string ToString() =>
        $"host: vq0 {_rx.Unsynchronized} | vq1 {_tx.Unsynchronized} | free tx {Volatile.Read(ref _freeCount)}/{_freeTx.Length}";
}
