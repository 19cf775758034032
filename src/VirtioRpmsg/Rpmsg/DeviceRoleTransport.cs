using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The remote (virtio device) side: sends by filling the host's rx buffers taken from vring 0 and
/// receives the host's tx buffers from vring 1, returning each on the used ring with the
/// descriptor's full length (OpenAMP hosts reuse it as the next buffer size). Every chain is
/// validated by the virtqueue (bounds, loops, translation) before any byte is touched here.
/// </summary>
/// <remarks>
/// Threads: each queue is shared through one <see cref="SynchronizedVirtqueue{TQueue}"/> and nothing
/// else. The vq0 gate (our tx) also guards the cancelled-buffer stack and the per-head records of
/// taken buffers, so many senders can take, fill and return host rx buffers; the vq1 gate (our rx)
/// lets a held buffer be returned from any thread while the dispatcher takes new ones. Doorbells ring
/// after the gate is released.
/// </remarks>
internal sealed partial class DeviceRoleTransport : IRpmsgTransport
{
    private readonly SynchronizedVirtqueue<VirtqueueDevice> _tx; // vq0: the host's rx buffers
    private readonly SynchronizedVirtqueue<VirtqueueDevice> _rx; // vq1: the host's tx buffers
    private readonly IDoorbell _doorbell;
    // Per-head private copies of where each taken buffer is, so nothing is re-read from the ring.
    // Heads are numbered per queue, so vq0 (our tx, under _tx) and vq1 (our rx, under _rx) each get their own.
    private readonly RegionHandle[] _txRegion;
    private readonly long[] _txOffset;
    private readonly int[] _rxLength;
    // Host rx buffers taken and not used yet: cancelled zero-copy sends, heads adopted on resume, and the next reply's
    // buffer taken ahead (ReserveNextReplyBuffer). The next take pops one before it takes from the ring.
    private readonly Stack<int> _cancelled;
    private readonly bool _rpmsgLite;

    // The vring each kick names: we send on vq0 (the host's rx) and return the host's messages on vq1.
    private const int OurTxVring = 0, OurRxVring = 1;

    internal DeviceRoleTransport(RpmsgVdevLayout layout, bool eventIndex, string name, IDoorbell doorbell)
    {
        _doorbell = doorbell;
        _rpmsgLite = layout.Conventions == RpmsgPeerConventions.RpmsgLite;
        BufferSize = layout.BufferSize;
        var vringLayout = new VringLayout(layout.VringNum, layout.VringAlign);
        var vq0 = new VirtqueueDevice(name + ".vq0", Vring.Place(layout.Memory, layout.Vring0Address, vringLayout), layout.Memory, eventIndex);
        var vq1 = new VirtqueueDevice(name + ".vq1", Vring.Place(layout.Memory, layout.Vring1Address, vringLayout), layout.Memory, eventIndex);
        _txRegion = new RegionHandle[layout.VringNum];
        _txOffset = new long[layout.VringNum];
        _rxLength = new int[layout.VringNum];
        _cancelled = new Stack<int>(layout.VringNum);
        // Continue from whatever used.idx the host left (RPMsg-Lite's master pre-fills vring 1's used ring).
        vq0.ContinueFromPublishedUsedIndex();
        vq1.ContinueFromPublishedUsedIndex();
        // A resumed vhost-user ring goes on where the last device left off (0 for a fresh one).
        vq0.ResumeAt(layout.Vring0NextAvail);
        vq1.ResumeAt(layout.Vring1NextAvail);
        // Host rx buffers the last device took and never returned (given back unsent, or held by the application when
        // the rings stopped): this device returns them, or the guest would have lost them for good.
        foreach (int head in layout.Vring0InFlight ?? [])
        {
            if (!vq0.TryAdoptTaken(head, (uint)layout.BufferSize, deviceWritable: true, out var segment))
                continue; // the guest changed an in-flight descriptor: that buffer is its loss
            _txRegion[head] = segment.Region;
            _txOffset[head] = segment.Offset;
            _cancelled.Push(head);
        }
        // Host tx buffers the last device took and never gave back: their messages were delivered; the guest gets them back.
        foreach (int head in layout.Vring1InFlight ?? [])
            if (vq1.TryAdoptTaken(head, 0, deviceWritable: _rpmsgLite, out var segment))
                vq1.PushUsed(head, segment.Length);
        // Notifications for "host posted rx buffers" are only wanted while a sender waits.
        vq0.DisableNotifications();
        _tx = new SynchronizedVirtqueue<VirtqueueDevice>(vq0);
        _rx = new SynchronizedVirtqueue<VirtqueueDevice>(vq1);
    }

    public int BufferSize { get; }

    // ---- tx: the host's rx buffers -------------------------------------------------------------

    public bool TryAcquireTx(out RpmsgBufferRef buffer, RpmsgTxTurn? yieldTo = null)
    {
        using var tx = _tx.Enter();
        // The turn is looked at under the gate, with the take (RpmsgTxTurn).
        if (yieldTo is { ApplicationMustWait: true })
        {
            buffer = default;
            return false;
        }
        return TryTakeTx(tx.Queue, out buffer);
    }

    public bool TrySendCopy(uint source, uint destination, ReadOnlySpan<byte> payload, RpmsgTxTurn? yieldTo = null, RpmsgEndpoint? owner = null)
    {
        bool notify;
        int length = RpmsgHeader.Size + payload.Length;
        using (var tx = _tx.Enter())
        {
            if (yieldTo is { ApplicationMustWait: true } || owner is { IsDestroyed: true } || !TryTakeTx(tx.Queue, out var buffer))
                return false;
            try
            {
                notify = FillAndPublish(tx.Queue, buffer, source, destination, payload);
            }
            catch
            {
                // Unmapped, no lease for this thread, or the queue broken under us (nothing was published): the host's
                // buffer stays ours to use next, never lost.
                _cancelled.Push(buffer.Id);
                throw;
            }
            if (!notify)
                ReserveNextReplyBuffer(tx.Queue, length);
        }
        if (notify)
            RingThenReserve(length);
        return true;
    }

    // Under the vq0 gate: one lease for the fill and the publication when the ring lies in the buffer's mapping, one
    // after the other otherwise (never two held at once). True when the driver must be kicked.
    private bool FillAndPublish(VirtqueueDevice vq0, in RpmsgBufferRef buffer, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        int length = RpmsgHeader.Size + payload.Length;
        using (var lease = buffer.Region.Acquire())
        {
            buffer.Fill(lease, source, destination, payload);
            if (lease.Covers(vq0.Vring.Region))
                return vq0.PushUsedAndNotifyPrepare(buffer.Id, (uint)length, lease) | _rpmsgLite;
        }
        return Publish(vq0, buffer.Id, length);
    }

    // A send that kicks: the kick first (a driver woken by it does not wait for the take ahead), then the next reply's
    // buffer taken in a second pass through the gate.
    private void RingThenReserve(int length)
    {
        _doorbell.Ring(OurTxVring);
        using var tx = _tx.Enter();
        ReserveNextReplyBuffer(tx.Queue, length);
    }

    // Under the vq0 gate.
    private bool TryTakeTx(VirtqueueDevice vq0, out RpmsgBufferRef buffer)
    {
        int head;
        if (_reserveFailure is { } failure)
        {
            // First, before a buffer cancelled since: the failure may have broken the queue, and a buffer filled for a
            // broken queue would be neither published nor given back.
            _reserveFailure = null;
            failure.Throw();
            head = -1; // not reached
        }
        else if (_cancelled.Count > 0)
        {
            head = _cancelled.Pop();
            if (head == _reservedHead)
                _reservedHead = -1;
        }
        else
        {
            if (!vq0.TryTakeAvailable(out var chain))
            {
                buffer = default;
                return false;
            }
            head = chain.Head;
            if (chain.SegmentCount != 1 || !chain[0].DeviceWritable)
            {
                vq0.PushUsed(head, 0);
                ThrowBadShape("vq0 chain", "host rx buffer", "one device-writable descriptor", head, chain.SegmentCount);
            }
            int length = (int)Math.Min(chain[0].Length, int.MaxValue);
            if (length != BufferSize)
            {
                vq0.PushUsed(head, 0);
                ThrowSizeMismatch(length);
            }
            _txRegion[head] = chain[0].Region;
            _txOffset[head] = chain[0].Offset;
        }
        // Built under the gate: a head the host republishes cannot mix two buffers' fields.
        // Every accepted host rx buffer is exactly BufferSize long (checked above).
        buffer = new RpmsgBufferRef(head, _txRegion[head], _txOffset[head], BufferSize);
        return true;
    }

    public bool SubmitTx(int id, int length, RpmsgEndpoint? owner = null)
    {
        bool notify;
        using (var tx = _tx.Enter())
        {
            if (owner is { IsDestroyed: true })
                return false;
            notify = Publish(tx.Queue, id, length);
            if (!notify)
                ReserveNextReplyBuffer(tx.Queue, length);
        }
        if (notify)
            RingThenReserve(length);
        return true;
    }

    // Under the vq0 gate: hands a filled buffer to the driver; true when it must be kicked.
    // RPMsg-Lite's master leaves NO_INTERRUPT set for good yet waits for a kick per message.
    private bool Publish(VirtqueueDevice vq0, int id, int length) => vq0.PushUsedAndNotifyPrepare(id, (uint)length) | _rpmsgLite;

    public void FenceTx()
    {
        using var tx = _tx.Enter(); // a pass through the gate: the holder before us has left it
    }

    public void CancelTx(int id)
    {
        using var tx = _tx.Enter();
        _cancelled.Push(id);
    }

    public bool TxAvailable
    {
        get
        {
            using var tx = _tx.Enter();
            return _cancelled.Count > 0 || _reserveFailure is not null || tx.Queue.HasAvailable;
        }
    }

    // RPMsg-Lite's master puts its consumed rx buffers back on vring 0 and kicks nobody (RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION 0).
    public bool TxReturnsUnsignalled => _rpmsgLite;

    public void ArmTxNotifications(bool armed)
    {
        using var tx = _tx.Enter();
        if (armed)
            tx.Queue.EnableNotifications();
        else
            tx.Queue.DisableNotifications();
    }

    // ---- rx: the host's tx buffers ---------------------------------------------------------------

    // Under the rx gate: the host tx buffer just taken, validated.
    private RpmsgBufferRef TakeRequest(VirtqueueDevice vq1, in DescriptorChain chain)
    {
        int head = chain.Head;
        // RPMsg-Lite marks every descriptor device-writable, its tx buffers included.
        if (chain.SegmentCount != 1 || (chain[0].DeviceWritable && !_rpmsgLite))
        {
            vq1.PushUsed(head, 0);
            ThrowBadShape("vq1 chain", "host tx buffer", "one readable descriptor", head, chain.SegmentCount);
        }
        int length = (int)Math.Min(chain[0].Length, int.MaxValue);
        _rxLength[head] = length;
        return new RpmsgBufferRef(head, chain[0].Region, chain[0].Offset, Math.Min(length, BufferSize));
    }

    public bool TryReceive(int release, out RpmsgBufferRef buffer)
    {
        bool notify;
        bool found;
        using (var rx = _rx.Enter())
        {
            var vq1 = rx.Queue;
            // The give-back, the take and (when nothing is left) the publication in one step.
            found = vq1.TryGiveBackAndTake(release, release != -1 ? RxLength(release) : 0, out var chain, out notify);
            buffer = found ? TakeRequest(vq1, chain) : default;
        }
        if (notify)
            _doorbell.Ring(OurRxVring);
        return found;
    }

    // The length the host gave the request buffer at head id (the used element's len for it).
    private uint RxLength(int id)
    {
        if ((uint)id >= (uint)_rxLength.Length)
            ThrowNotAHead(id, _rxLength.Length);
        return (uint)_rxLength[id];
    }

    public void FlushRx()
    {
        bool notify;
        using (var rx = _rx.Enter())
            notify = rx.Queue.NotifyPrepare();
        if (notify)
            _doorbell.Ring(OurRxVring);
    }

    public void ReturnRx(int id)
    {
        bool notify;
        using (var rx = _rx.Enter())
            notify = rx.Queue.PushUsedAndNotifyPrepare(id, RxLength(id));
        if (notify)
            _doorbell.Ring(OurRxVring);
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
            // The take that follows reads the buffer first: its lines start over from the far core now (as in
            // DriverRoleTransport.RxPending). The host's descriptor is as long as its message. One lease for the look
            // and the prefetch.
            using var rx = _rx.Enter();
            return rx.Queue.HasAvailableThenPrefetch(BufferSize);
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
        rx.Queue.DisableNotifications();
    }

    public bool EnableRxNotifications()
    {
        using var rx = _rx.Enter();
        return rx.Queue.EnableNotifications();
    }

    /// <summary>
    /// The next avail entry the device will take on queue <paramref name="queue"/> (0 or 1), read under the
    /// queue's gate; no shared memory is read, so it stays valid after the device stopped.
    /// </summary>
    internal ushort NextAvailIndex(int queue)
    {
        using var scope = (queue == 0 ? _tx : _rx).Enter();
        return scope.Queue.NextAvailIndex;
    }

    /// <summary>
    /// The host rx buffers (vring 0 heads) taken and not returned: given back unsent, or still held. Private state, so
    /// it stays valid after the device stopped; a device resumed on the same rings takes them over.
    /// </summary>
    internal int[] TxHeadsInFlight()
    {
        using var scope = _tx.Enter();
        return scope.Queue.InFlightHeads();
    }

    /// <summary>As <see cref="TxHeadsInFlight"/>, the host tx buffers (vring 1 heads): held by the application, or given
    /// back without a publication yet. A device resumed on the same rings returns them.</summary>
    internal int[] RxHeadsInFlight()
    {
        using var scope = _rx.Enter();
        return scope.Queue.InFlightHeads();
    }

    /// <summary>Used elements of queue <paramref name="queue"/> (0 or 1) not rewritten because the ring held them already (diagnostics).</summary>
    internal long UsedWritesSkipped(int queue)
    {
        using var scope = (queue == 0 ? _tx : _rx).Enter();
        return scope.Queue.UsedWritesSkipped;
    }

    public void Dispose()
    {
    }

    public override string ToString() => $"remote: vq0 {_tx.Unsynchronized} | vq1 {_rx.Unsynchronized}";
}
