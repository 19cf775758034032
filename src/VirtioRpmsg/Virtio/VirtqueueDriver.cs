using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// The driver role of a split virtqueue: posts buffers (chains of descriptors) on the avail ring,
/// publishes them, decides whether to kick the device, and reclaims them from the used ring.
/// </summary>
/// <remarks>
/// <para>All bookkeeping is private (Linux <c>virtio_ring.c</c> style): a free list of descriptor
/// indices, and per chain head the caller's token, the chain's descriptor count and last descriptor,
/// and the largest used length it can report. The shared descriptor table is written, and read back only to skip
/// rewriting an entry that already holds the same value (<see cref="DriverRingShadow"/>): nothing
/// the device writes decides which of our descriptors are freed.</para>
/// <para>Threads: single owner, like <see cref="VirtqueueDevice"/>: one thread at a time calls any
/// member (the caller serializes; <see cref="IsBroken"/>, <see cref="Fault"/>, the error counters and
/// <see cref="FreeCount"/> may be read from any thread). Queue state is kept apart from memory, which is
/// leased per call through the <see cref="Vring"/>. Where several threads must share the queue, wrap it
/// in a <see cref="SynchronizedVirtqueue{TQueue}"/>, the one non-sleeping gate for that.</para>
/// </remarks>
public sealed partial class VirtqueueDriver
{
    private readonly Vring _vring;
    private readonly AddressMap _buffers;
    private readonly VirtqueueHealth _health;
    private readonly int _num;
    private readonly int _mask;

    // ---- private shadow (never shared memory) ----
    // Free list and chain links in one array: a popped chain keeps its links, so freeing is a splice. First in, first
    // out (taken at _freeHead, freed behind _freeTail): buffers re-posted in the order they came back land in the
    // same descriptors, lap after lap, so DriverRingShadow need not rewrite them.
    private readonly ushort[] _next;
    // Per head index; a count of 0 means "not the head of a chain in flight".
    private readonly int[] _chainCount;
    private readonly ushort[] _chainLast;
    private readonly int[] _token;
    private readonly ulong[] _usedLimit;
    // What the descriptor table and avail ring hold from our own writes: identical entries are not rewritten.
    private readonly DriverRingShadow _written;

    private int _freeHead;
    private int _freeTail;
    private int _freeCount;
    private ushort _availShadow;     // next avail entry to fill
    private ushort _availPublished;  // avail.idx as last published by KickPrepare

    private ushort _lastUsed;
    private ushort _usedSeen;        // used.idx as last read and validated: elements before it need no new read
    private bool _interruptsEnabled;
    private bool _disabledHint;      // the disable hint written at _disabledAt is in the ring (until Enable or Reset)
    private ushort _disabledAt;

    /// <summary>
    /// Creates the driver side of <paramref name="vring"/> and zeroes the ring (as Linux does when it
    /// sets up a remoteproc vring). Buffers must lie inside <paramref name="buffers"/>.
    /// </summary>
    /// <param name="name">Name used in error messages.</param>
    /// <param name="vring">The ring.</param>
    /// <param name="buffers">Where buffers may lie (device addresses).</param>
    /// <param name="eventIndex">True if VIRTIO_RING_F_EVENT_IDX was negotiated.</param>
    public VirtqueueDriver(string name, Vring vring, AddressMap buffers, bool eventIndex)
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
        _next = new ushort[_num];
        _chainCount = new int[_num];
        _chainLast = new ushort[_num];
        _token = new int[_num];
        _usedLimit = new ulong[_num];
        _written = new DriverRingShadow(_num);
        Reset();
    }

    /// <summary>Queue name (error messages).</summary>
    public string Name { get; }

    /// <summary>The ring.</summary>
    public Vring Vring => _vring;

    /// <summary>Number of descriptors.</summary>
    public int Num => _num;

    /// <summary>True if VIRTIO_RING_F_EVENT_IDX is in use.</summary>
    public bool EventIndex { get; }

    /// <summary>Free descriptors right now.</summary>
    public int FreeCount => Volatile.Read(ref _freeCount);

    /// <summary>True once the device violated the protocol; cleared by <see cref="Reset"/>.</summary>
    public bool IsBroken => _health.IsBroken;

    /// <summary>The violation that broke the queue (layer, rule, field, value, message), or null.</summary>
    public Fault? Fault => _health.Fault;

    /// <summary>Descriptors and avail entries not rewritten because the ring already held them (<see cref="DriverRingShadow"/>).</summary>
    internal long RingWritesSkipped => _written.Skipped;

    /// <summary>Protocol violations seen since creation (not cleared by reset).</summary>
    public long ErrorCount => _health.Total;

    /// <summary>Violations of one rule seen since creation.</summary>
    public long GetErrorCount(FaultRule rule) => _health.Count(rule);

    /// <summary>Posts one buffer. False when no descriptor is free.</summary>
    /// <exception cref="AddressRangeException">The buffer is not wholly inside one region of the address map.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    public bool TryAdd(ulong deviceAddress, uint length, bool deviceWritable, int token)
    {
        var segment = new BufferSegment(deviceAddress, length, deviceWritable);
        return TryAddChain(new ReadOnlySpan<BufferSegment>(in segment), token);
    }

    /// <summary>
    /// Posts a chain (device-readable segments first, then device-writable ones, by virtio convention).
    /// False when fewer than <c>segments.Length</c> descriptors are free. The entry becomes visible to
    /// the device at the next <see cref="KickPrepare"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The chain is empty or longer than <see cref="Num"/>.</exception>
    /// <exception cref="AddressRangeException">A segment is not wholly inside one region of the address map.</exception>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, int token)
    {
        _health.ThrowIfBroken();
        int n = segments.Length;
        if (n == 0 || n > _num)
            throw new ArgumentException($"Virtqueue '{Name}': a chain needs 1..{_num} segments, got {n}.", nameof(segments));
        ulong total = 0;
        ulong writable = 0;
        for (int i = 0; i < n; i++)
        {
            var s = segments[i];
            if (!_buffers.TryTranslate(s.DeviceAddress, s.Length, out _, out _))
                throw new AddressRangeException(nameof(segments), $"Virtqueue '{Name}' segment {i}", s.DeviceAddress, s.Length, "is not wholly inside one region of the buffer address map");
            total += s.Length;
            if (s.DeviceWritable)
                writable += s.Length;
        }

        using var lease = _vring.Acquire();
        if (_freeCount < n)
            return false;
        int head = _freeHead;
        int d = head;
        for (int i = 0; i < n; i++)
        {
            var s = segments[i];
            bool more = i < n - 1;
            ushort flags = (ushort)((s.DeviceWritable ? VringFlags.DescriptorWrite : 0) | (more ? VringFlags.DescriptorNext : 0));
            // The chain's links are the free list's links: the next free descriptor is the next in the chain.
            _written.WriteDescriptor(_vring, lease, d, s.DeviceAddress, s.Length, flags, more ? _next[d] : (ushort)0);
            if (more)
                d = _next[d];
        }
        _freeHead = _next[d];
        _freeCount -= n;
        _chainCount[head] = n;
        _chainLast[head] = (ushort)d;
        _token[head] = token;
        // A device-to-driver buffer's used length is what the device wrote; a driver-to-device
        // buffer is reported with its full length (OpenAMP relies on that), so that is its limit.
        _usedLimit[head] = writable != 0 ? writable : total;
        _written.WriteAvailEntry(_vring, lease, _availShadow & _mask, (ushort)head);
        _availShadow++;
        return true;
    }

    /// <summary>
    /// Publishes every entry added so far (store-release of avail.idx), then, after a full fence,
    /// reads the device's suppression state: true if the device must be notified.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    public bool KickPrepare()
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        return Publish(lease);
    }

    private bool Publish(in MappingLease lease)
    {
        ushort old = _availPublished;
        ushort now = _availShadow;
        if (old == now)
            return false;
        // Release: the descriptors and avail.ring entries written by TryAddChain are visible before the index.
        _vring.PublishAvailIndex(lease, now);
        _availPublished = now;
        return _vring.DeviceControl.PeerMustNotify(lease, EventIndex, now, old);
    }

    /// <summary>
    /// <see cref="TryAdd"/> then <see cref="KickPrepare"/> under one lease, for a buffer inside a range the
    /// caller translated once through the buffer address map when it set up (a pool of its own buffers): the
    /// per-buffer translation is skipped, nothing else. <paramref name="kick"/> says whether to notify.
    /// False (nothing added or published) when no descriptor is free.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool TryAddPooledAndPublish(ulong deviceAddress, uint length, bool deviceWritable, int token, out bool kick)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        if (!AddPooled(lease, deviceAddress, length, deviceWritable, token))
        {
            kick = false;
            return false;
        }
        kick = Publish(lease);
        return true;
    }

    /// <summary>
    /// <see cref="TryAddPooledAndPublish(ulong, uint, bool, int, out bool)"/> without the publication: the entry becomes visible to the device at the
    /// next <see cref="KickPrepare"/> (or any publishing add), so a batch costs one index store and one notification check.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The queue is broken.</exception>
    internal bool TryAddPooled(ulong deviceAddress, uint length, bool deviceWritable, int token)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        return AddPooled(lease, deviceAddress, length, deviceWritable, token);
    }

    private bool AddPooled(in MappingLease lease, ulong deviceAddress, uint length, bool deviceWritable, int token)
    {
        if (_freeCount == 0)
            return false;
        int head = _freeHead;
        _written.WriteDescriptor(_vring, lease, head, deviceAddress, length, deviceWritable ? VringFlags.DescriptorWrite : (ushort)0, 0);
        _freeHead = _next[head];
        _freeCount--;
        _chainCount[head] = 1;
        _chainLast[head] = (ushort)head;
        _token[head] = token;
        _usedLimit[head] = length;
        _written.WriteAvailEntry(_vring, lease, _availShadow & _mask, (ushort)head);
        _availShadow++;
        return true;
    }

    /// <summary>True if the device has returned a chain not yet reclaimed (cheap; for pollers).</summary>
    public bool HasUsed
    {
        get
        {
            _health.ThrowIfBroken();
            if (_usedSeen != _lastUsed)
                return true;
            using var lease = _vring.Acquire();
            return _vring.ReadUsedIndex(lease) != _lastUsed;
        }
    }

    /// <summary>
    /// Reclaims the next used chain: its token and the length the device reported. The element is
    /// read once and validated against the private shadow before anything is freed.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The device wrote an invalid used index or element, or the queue was already broken.</exception>
    public bool TryGetUsed(out int token, out uint length)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        return TakeUsed(lease, out token, out length);
    }

    /// <summary>
    /// <see cref="TryGetUsed"/>, and when nothing is pending, <see cref="KickPrepare"/> under the same lease: a
    /// consumer's last look of a batch publishes what it re-posted meanwhile. <paramref name="kick"/> says whether to
    /// notify.
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">
    /// The device wrote an invalid used index or element, or the queue was already broken.
    /// </exception>
    internal bool TryGetUsedOrPublish(out int token, out uint length, out bool kick)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        if (TakeUsed(lease, out token, out length))
        {
            kick = false;
            return true;
        }
        kick = Publish(lease);
        return false;
    }

    /// <summary>
    /// Reclaims every used chain there is room for in <paramref name="tokens"/> under one lease, each validated
    /// as by <see cref="TryGetUsed"/>; returns how many (their tokens, in order; lengths are not kept).
    /// </summary>
    /// <exception cref="VirtqueueBrokenException">The device wrote an invalid used index or element, or the queue was already broken.</exception>
    internal int TryGetUsedTokens(Span<int> tokens)
    {
        _health.ThrowIfBroken();
        using var lease = _vring.Acquire();
        int n = 0;
        while (n < tokens.Length && TakeUsed(lease, out tokens[n], out _))
            n++;
        return n;
    }

    private bool TakeUsed(in MappingLease lease, out int token, out uint length)
    {
        ushort last = _lastUsed;
        if (_usedSeen == last)
        {
            // Acquire: the used element is read after the index that covers it. Elements an earlier read covered
            // need no new read (the device cannot take back what it published).
            ushort usedIdx = _vring.ReadUsedIndex(lease);
            if (usedIdx == last)
            {
                token = 0;
                length = 0;
                return false;
            }
            int pending = (ushort)(usedIdx - last);
            int inFlight = (ushort)(_availPublished - last);
            if (pending > inFlight)
                BreakUsedIndexJump(usedIdx, pending, last, inFlight);
            _usedSeen = usedIdx;
        }
        ulong element = _vring.ReadUsedElement(lease, last & _mask);
        uint id = (uint)element;
        uint len = (uint)(element >> 32);
        if (id >= (uint)_num)
            BreakUsedIdOutOfRange(last & _mask, id);
        if (_chainCount[id] == 0)
            BreakUsedIdNotOutstanding(last & _mask, id);
        if (len > _usedLimit[id])
            BreakUsedLengthTooLarge(last & _mask, id, len);

        token = _token[id];
        length = len;
        // Free from the shadow: splice the chain's private links onto the free list.
        if (_freeCount == 0)
            _freeHead = (int)id;
        else
            _next[_freeTail] = (ushort)id;
        _freeTail = _chainLast[id];
        _freeCount += _chainCount[id];
        _chainCount[id] = 0;
        _token[id] = 0;
        _lastUsed = (ushort)(last + 1);

        // With event index, interrupts stay enabled only while used_event follows what we reclaimed
        // (Linux virtqueue_get_buf does the same); otherwise the next interrupt would come 64K entries late.
        if (EventIndex && _interruptsEnabled && FollowsEvent)
            _vring.DriverControl.Follow(lease, _lastUsed);
        return true;
    }

    /// <summary>
    /// Returns the queue to its initial state: ring zeroed, all indices 0, every descriptor free,
    /// interrupts enabled, broken state cleared (error counters are kept). Requires no concurrent calls
    /// and a device that is reset as well.
    /// </summary>
    public void Reset()
    {
        using var lease = _vring.Acquire();
        _vring.Clear(lease);
        _written.Forget();
        for (int i = 0; i < _num; i++)
        {
            _next[i] = (ushort)(i + 1); // the last link is never followed: the free count stops first
            _chainCount[i] = 0;
            _chainLast[i] = 0;
            _token[i] = 0;
            _usedLimit[i] = 0;
        }
        _freeHead = 0;
        _freeTail = _num - 1;
        _freeCount = _num;
        _availShadow = 0;
        _availPublished = 0;
        _lastUsed = 0;
        _usedSeen = 0;
        _interruptsEnabled = true;
        _disabledHint = false;
        _health.Clear();
    }

    /// <summary>Name, ring and broken reason, for logs.</summary>
    public override string ToString() => $"virtqueue driver '{Name}' ({_vring}){(IsBroken ? ", broken: " + Fault?.Rule : "")}";
}
