using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// The device role of a split virtqueue: takes chains the driver made available, hands out a
/// validated private copy of each, returns them on the used ring, and decides whether to notify
/// the driver.
/// </summary>
/// <remarks>
/// <para>Everything read from the ring is untrusted: avail.idx movement is bounded by num, the head and
/// every <c>next</c> are checked against num before use, a chain walk stops after num descriptors
/// (loops), each descriptor is copied once and its range must lie wholly inside one registered buffer
/// region. The first violation breaks the queue until <see cref="Reset"/>.</para>
/// <para>Threads: single owner, like <see cref="VirtqueueDriver"/>: one thread at a time calls any
/// member (the caller serializes; <see cref="IsBroken"/>, <see cref="Fault"/> and the error counters may
/// be read from any thread). Queue state is kept apart from memory, which is leased per call through the
/// <see cref="Vring"/>. Where several threads must share the queue, wrap it in a
/// <see cref="SynchronizedVirtqueue{TQueue}"/>. A <see cref="DescriptorChain"/> is valid until the next
/// <see cref="TryTakeAvailable"/>.</para>
/// </remarks>
public sealed partial class VirtqueueDevice
{
    private readonly Vring _vring;
    private readonly AddressMap _buffers;
    private readonly VirtqueueHealth _health;
    private readonly int _num;
    private readonly int _mask;

    // Private copy of the chain being handed out, and per head the chains taken and not yet pushed.
    private readonly ChainSegment[] _segments;
    private readonly int[] _taken;
    private readonly DeviceRingShadow _written;

    private ushort _lastAvail;        // next avail entry to take
    private ushort _availSeen;        // avail.idx as last read and validated: entries before it need no new read
    private ushort _usedShadow;       // used.idx including pushes not yet published
    private ushort _usedPublished;    // used.idx as last published
    private ushort _lastNotifiedUsed; // used.idx at the last NotifyPrepare
    private bool _notificationsEnabled;
    private bool _disabledHint;       // the disable hint written at _disabledAt is in the ring (until Enable or Reset)
    private ushort _disabledAt;

    /// <summary>
    /// Creates the device side of <paramref name="vring"/>. The ring is not written (the driver sets
    /// it up); call <see cref="Reset"/> to zero the device's part.
    /// </summary>
    /// <param name="name">Name used in error messages.</param>
    /// <param name="vring">The ring.</param>
    /// <param name="buffers">Regions the driver's buffers may lie in (device addresses).</param>
    /// <param name="eventIndex">True if VIRTIO_RING_F_EVENT_IDX was negotiated.</param>
    public VirtqueueDevice(string name, Vring vring, AddressMap buffers, bool eventIndex)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(vring);
        ArgumentNullException.ThrowIfNull(buffers);
        Name = name;
        _vring = vring;
        _buffers = buffers;
        EventIndex = eventIndex;
        _health = new VirtqueueHealth(name);
        _num = vring.Num;
        _mask = _num - 1;
        _segments = new ChainSegment[_num];
        _taken = new int[_num];
        _written = new DeviceRingShadow(_num);
        _notificationsEnabled = true;
    }

    /// <summary>Queue name (error messages).</summary>
    public string Name { get; }

    /// <summary>The ring.</summary>
    public Vring Vring => _vring;

    /// <summary>Number of descriptors.</summary>
    public int Num => _num;

    /// <summary>True if VIRTIO_RING_F_EVENT_IDX is in use.</summary>
    public bool EventIndex { get; }

    /// <summary>True once the driver violated the protocol; cleared by <see cref="Reset"/>.</summary>
    public bool IsBroken => _health.IsBroken;

    /// <summary>The violation that broke the queue (layer, rule, field, value, message), or null.</summary>
    public Fault? Fault => _health.Fault;

    /// <summary>Protocol violations seen since creation (not cleared by reset).</summary>
    public long ErrorCount => _health.Total;

    /// <summary>Violations of one rule seen since creation.</summary>
    public long GetErrorCount(FaultRule rule) => _health.Count(rule);

    /// <summary>True if the driver has published a chain not yet taken (cheap; for pollers).</summary>
    public bool HasAvailable
    {
        get
        {
            _health.ThrowIfBroken();
            if (_availSeen != _lastAvail)
                return true;
            using var lease = _vring.Acquire();
            return LookAtAvailIndex(lease);
        }
    }

    /// <summary>
    /// Where the next chain <see cref="TryTakeAvailable"/> would take starts (its first descriptor's buffer), without
    /// taking it or reading avail.idx: only an entry already covered by a validated index read is looked at. A hint
    /// for a prefetch: false, and nothing recorded or broken, if that entry or descriptor is invalid (the take will
    /// find it and break the queue), if nothing is known to be available, or on Device memory (nothing to prefetch).
    /// </summary>
    internal bool TryPeekNextAvailable(out RegionHandle region, out long offset, out uint length)
    {
        region = default;
        offset = 0;
        length = 0;
        if (_availSeen == _lastAvail || _health.IsBroken || !_vring.TryAcquire(out var lease))
            return false;
        using (lease)
            return PeekNext(lease, out region, out offset, out length);
    }

    /// <summary>
    /// Takes the next available chain. Each descriptor is read once into a private array, checked and
    /// translated through the address map; <paramref name="chain"/> views that copy.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The driver wrote an invalid index or descriptor, or the queue was already broken.</exception>
    public bool TryTakeAvailable(out DescriptorChain chain)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        return Take(lease, out chain);
    }

    private bool Take(scoped in MappingLease lease, out DescriptorChain chain)
    {
        ushort last = _lastAvail;
        if (_availSeen == last)
        {
            // Acquire: the avail entry and the descriptors are read after the index that covers them. Entries
            // an earlier read covered need no new read (one read of the index, a line the driver keeps writing,
            // per batch instead of per chain); a driver cannot take back what it published.
            ushort availIdx = _vring.ReadAvailIndex(lease);
            if (availIdx == last)
            {
                chain = default;
                return false;
            }
            int pending = (ushort)(availIdx - last);
            if (pending > _num)
                BreakAvailIndexJump(availIdx, pending, last);
            _availSeen = availIdx;
        }

        int slot = last & _mask;
        ushort head = _vring.ReadAvailEntry(lease, slot);
        if (head >= _num)
            BreakHeadOutOfRange(slot, head);

        int count = 0;
        int index = head;
        ulong total = 0;
        ulong writable = 0;
        while (true)
        {
            // TTL: a chain of distinct descriptors has at most num of them, so one more means a loop.
            if (count == _num)
                BreakChainTooLong(head, index);
            _vring.ReadDescriptor(lease, index, out ulong address, out ulong word);
            uint length = (uint)word;
            ushort flags = (ushort)(word >> 32);
            ushort next = (ushort)(word >> 48);
            if ((flags & VringFlags.DescriptorIndirect) != 0)
                BreakIndirect(head, index, flags);
            if (!_buffers.TryTranslate(address, length, out var region, out long offset))
                BreakDescriptorOutOfRange(head, index, address, length);
            bool deviceWritable = (flags & VringFlags.DescriptorWrite) != 0;
            _segments[count++] = new ChainSegment(region, offset, length, address, deviceWritable);
            total += length;
            if (deviceWritable)
                writable += length;
            if ((flags & VringFlags.DescriptorNext) == 0)
                break;
            if (next >= _num)
                BreakNextOutOfRange(head, index, next);
            index = next;
        }

        _lastAvail = (ushort)(last + 1);
        _taken[head]++;
        // With event index, notifications stay enabled only while avail_event follows what we took.
        if (EventIndex && _notificationsEnabled && FollowsEvent)
            _vring.DeviceControl.Follow(lease, _lastAvail);
        chain = new DescriptorChain(head, new ReadOnlySpan<ChainSegment>(_segments, 0, count), total, writable);
        return true;
    }

    /// <summary>
    /// Returns chain <paramref name="head"/> on the used ring with <paramref name="length"/> (bytes
    /// written for a device-writable chain; the full length for a device-readable one) and publishes
    /// used.idx (release).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No chain with this head was taken and not yet pushed.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    public void PushUsed(int head, uint length)
    {
        _health.ThrowIfBroken();
        CheckTaken(head);
        using var lease = _vring.Acquire();
        Push(lease, head, length);
    }

    /// <summary>
    /// <see cref="PushUsed"/> then <see cref="NotifyPrepare"/> under one lease: returns chain
    /// <paramref name="head"/>, publishes used.idx, and says whether the driver must be notified.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No chain with this head was taken and not yet pushed.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    public bool PushUsedAndNotifyPrepare(int head, uint length)
    {
        _health.ThrowIfBroken();
        CheckTaken(head);
        using var lease = _vring.Acquire();
        Push(lease, head, length);
        return PrepareNotify(lease);
    }

    private void Push(in MappingLease lease, int head, uint length)
    {
        PushElement(lease, head, length);
        PublishUsed(lease);
    }

    private void PushElement(in MappingLease lease, int head, uint length)
    {
        ushort now = _usedShadow;
        _written.WriteUsedElement(_vring, lease, now & _mask, (uint)head, length);
        _taken[head]--;
        _usedShadow = (ushort)(now + 1);
    }

    // Release: the used elements (and whatever the caller wrote into the buffers) are visible before the index.
    private void PublishUsed(in MappingLease lease)
    {
        if (_usedPublished == _usedShadow)
            return;
        _vring.PublishUsedIndex(lease, _usedShadow);
        _usedPublished = _usedShadow;
    }

    /// <summary>
    /// Writes chain <paramref name="head"/> to the used ring without publishing used.idx: the driver sees it
    /// with the next publication (<see cref="NotifyPrepare"/>, or any push that publishes). For a consumer that
    /// returns a batch: one store to the index line, and one notification check, per batch.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No chain with this head was taken and not yet pushed.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal void PushUsedDeferred(int head, uint length)
    {
        _health.ThrowIfBroken();
        CheckTaken(head);
        using var lease = _vring.Acquire();
        PushElement(lease, head, length);
    }

    /// <summary>
    /// Before the first <see cref="PushUsed"/>: continue from the used.idx the driver left in the ring
    /// instead of 0. A virtio driver zeroes the ring (0 either way); an RPMsg-Lite master hands its tx
    /// buffers out by pre-filling vring 1's used ring, so its used.idx starts at the ring size. Any
    /// 16-bit value is a valid free-running start, so the one read needs no further check.
    /// </summary>
    internal void ContinueFromPublishedUsedIndex()
    {
        using var lease = _vring.Acquire();
        _usedShadow = _vring.ReadUsedIndex(lease);
        _usedPublished = _usedShadow;
        _lastNotifiedUsed = _usedShadow;
    }

    /// <summary>
    /// After one or more <see cref="PushUsed"/> (or deferred pushes): publishes used.idx if a push left it
    /// behind, full fence, then reads the driver's suppression state; true if the driver must be notified (interrupted).
    /// </summary>
    public bool NotifyPrepare()
    {
        _health.ThrowIfBroken();
        if (_lastNotifiedUsed == _usedShadow)
            return false;
        using var lease = _vring.Acquire();
        PublishUsed(lease);
        return PrepareNotify(lease);
    }

    private bool PrepareNotify(in MappingLease lease)
    {
        ushort old = _lastNotifiedUsed;
        ushort now = _usedShadow;
        if (old == now)
            return false;
        _lastNotifiedUsed = now;
        return _vring.DriverControl.PeerMustNotify(lease, EventIndex, now, old);
    }

    /// <summary>As <see cref="VirtqueueDriver.FollowsEvent"/>, for avail_event: false while a consumer polls beside a thread asleep waiting for a kick.</summary>
    internal bool FollowsEvent { get; set; } = true;

    /// <summary>Asks the driver not to kick (NO_NOTIFY flag, or an avail_event far from any index it can reach). A hint.</summary>
    public void DisableNotifications()
    {
        _health.ThrowIfBroken();
        // Already off and still out of the driver's reach: a rewrite would only pull the line the driver reads after
        // every publication back to this core (a polling dispatcher disables once per loop).
        if (_disabledHint && (!EventIndex || VringEvent.StillFar(_disabledAt, _lastAvail, _num)))
            return;
        using var lease = _vring.Acquire();
        _notificationsEnabled = false;
        _disabledHint = true;
        _disabledAt = _lastAvail;
        _vring.DeviceControl.Disable(lease, EventIndex, _lastAvail, _num);
    }

    /// <summary>
    /// Asks the driver to kick on the next available chain, then re-checks: false if chains are already
    /// available (take them instead of sleeping; the driver may not kick for them).
    /// </summary>
    public bool EnableNotifications()
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        _notificationsEnabled = true;
        _disabledHint = false;
        return _vring.DeviceControl.Enable(lease, EventIndex, _lastAvail);
    }

    /// <summary>
    /// Returns the device side to its initial state: the used ring and avail_event (the part the
    /// device writes) zeroed, all indices 0, nothing taken, notifications enabled, broken state cleared
    /// (error counters are kept). The driver-owned part is the driver's to reset.
    /// </summary>
    public void Reset()
    {
        using var lease = _vring.Acquire();
        _vring.ClearUsed(lease);
        _written.Forget();
        Array.Clear(_segments);
        Array.Clear(_taken);
        _lastAvail = 0;
        _availSeen = 0;
        _usedShadow = 0;
        _usedPublished = 0;
        _lastNotifiedUsed = 0;
        _notificationsEnabled = true;
        _disabledHint = false;
        _health.Clear();
    }

    /// <summary>
    /// The next avail entry the device will take (its last_avail_idx): how far it got through the driver's
    /// avail ring, what vhost-user GET_VRING_BASE reports. Private state: no shared memory is read.
    /// </summary>
    internal ushort NextAvailIndex => _lastAvail;

    /// <summary>Used elements not rewritten because the ring already held them (<see cref="DeviceRingShadow"/>).</summary>
    internal long UsedWritesSkipped => _written.Skipped;

    /// <summary>Name, ring and broken reason, for logs.</summary>
    public override string ToString() => $"virtqueue device '{Name}' ({_vring}){(IsBroken ? ", broken: " + Fault?.Rule : "")}";
}
