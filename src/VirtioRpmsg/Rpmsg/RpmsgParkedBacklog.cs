namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The dispatcher's private backlog of received messages copied out of shared memory while it is
/// blocked inside a callback (see <see cref="RpmsgRxDispatcher"/>): a FIFO of messages, each with a
/// payload slot of <c>maxPayload</c> bytes. Dispatcher thread only; allocated on first use, because most
/// applications never block inside a callback.
/// It starts with one slot per buffer and may double while a callback stays blocked (<see cref="TryGrow"/>),
/// charging the added slots to the device's queue budget until it empties again. A fixed bound let two
/// dispatchers whose callbacks both send (a burst to an echo peer) fill both backlogs and wait on each other
/// until the send timeout: each side's parking is what gives the other side its buffers back.
/// </summary>
internal sealed class RpmsgParkedBacklog
{
    // What one slot beyond the fixed ones is charged besides its payload bytes (its entry).
    private const int EntryBytes = 16;

    private readonly int _baseCapacity;
    private readonly int _slotSize;
    private readonly RpmsgQueueBudget? _budget;
    private int _capacity;
    private byte[] _slab = [];
    private Entry[] _entries = [];
    private byte[] _baseSlab = [];
    private Entry[] _baseEntries = [];
    private byte[] _spareSlab = [];
    private Entry[] _spareEntries = [];
    private long _charged; // bytes charged to _budget for the slots beyond _baseCapacity
    private int _head;
    private int _count;

    private readonly record struct Entry(uint Source, uint Destination, int Length);

    internal RpmsgParkedBacklog(int capacity, int slotSize, RpmsgQueueBudget? budget = null)
    {
        _baseCapacity = _capacity = capacity;
        _slotSize = slotSize;
        _budget = budget;
    }

    internal int Count => _count;

    internal bool IsFull => _count >= _capacity;

    /// <summary>Slots now (more than the fixed ones while grown).</summary>
    internal int Capacity => _capacity;

    /// <summary>Allocates the slots (once).</summary>
    internal void EnsureAllocated()
    {
        if (_entries.Length != 0)
            return;
        _entries = _baseEntries = new Entry[_capacity];
        _slab = _baseSlab = new byte[_capacity * _slotSize];
    }

    /// <summary>
    /// Doubles the slots, keeping the order, if the budget covers the added ones (and an array can hold them);
    /// false otherwise, or without a budget. Back to the fixed slots, and the charge refunded, once empty.
    /// </summary>
    internal bool TryGrow()
    {
        if (_budget is null)
            return false;
        // Straight to the slots kept from the last burst when they are larger: a callback that blocks again and again
        // (a peer that keeps sending) allocates nothing per burst. When the budget no longer covers them all (the
        // queues hold part of it), a doubling it covers still goes ahead: refusing it could leave two dispatchers
        // waiting on each other.
        bool reuse = _spareEntries.Length > _capacity && TryCharge(_spareEntries.Length);
        long grown = reuse ? _spareEntries.Length : 2L * _capacity;
        if (!reuse && (grown * _slotSize > Array.MaxLength || !TryCharge(grown)))
            return false;
        // That doubling fits in the kept slots: used in part (the arrays may be longer than the capacity), so no
        // allocation, nor grown slots held on top of them.
        reuse |= _spareEntries.Length >= grown;
        var entries = reuse ? _spareEntries : new Entry[grown];
        var slab = reuse ? _spareSlab : new byte[grown * _slotSize];
        if (reuse)
            (_spareEntries, _spareSlab) = ([], []);
        for (int i = 0; i < _count; i++)
        {
            // Unwrapped into the new arrays: the oldest first. A callback running on the oldest keeps its span
            // into the old slab, which the span keeps alive, and its entry moves with it.
            int from = (_head + i) % _capacity;
            entries[i] = _entries[from];
            _slab.AsSpan(from * _slotSize, _entries[from].Length).CopyTo(slab.AsSpan(i * _slotSize));
        }
        _entries = entries;
        _slab = slab;
        _capacity = (int)grown;
        _head = 0;
        return true;
    }

    private bool TryCharge(long grown)
    {
        long cost = (grown - _capacity) * (_slotSize + EntryBytes);
        if (!_budget!.TryReserve(cost))
            return false;
        _charged += cost;
        return true;
    }

    /// <summary>The payload slot behind the last message; it counts only after <see cref="Commit"/>.</summary>
    internal Span<byte> Reserve(uint source, uint destination, int length)
    {
        int slot = (_head + _count) % _capacity;
        _entries[slot] = new Entry(source, destination, length);
        return _slab.AsSpan(slot * _slotSize, length);
    }

    internal void Commit() => _count++;

    /// <summary>The oldest message. Its slot stays occupied until <see cref="Pop"/>, so parking during its callback appends behind it.</summary>
    internal bool TryPeek(out uint source, out uint destination, out Span<byte> payload)
    {
        if (_count == 0)
        {
            source = destination = 0;
            payload = default;
            return false;
        }
        var e = _entries[_head];
        source = e.Source;
        destination = e.Destination;
        payload = _slab.AsSpan(_head * _slotSize, e.Length);
        return true;
    }

    /// <summary>
    /// The oldest message is about to go into an endpoint queue, which charges it to the same budget: up to
    /// <paramref name="bytes"/> of the growth charge moves there with it. Kept until the backlog empties, the
    /// charge made the queue drop a grown backlog's messages the budget covered once (the peer's buffers had gone
    /// back, so nothing held it back). The grown slots stay allocated until then: the backlog and the queues hold
    /// at most the budget plus the grown slots (docs/threat-model.md).
    /// </summary>
    internal void HandOverCharge(long bytes)
    {
        long moved = Math.Min(bytes, _charged);
        if (moved <= 0)
            return;
        _charged -= moved;
        _budget!.Release(moved);
    }

    internal void Pop()
    {
        _head = (_head + 1) % _capacity;
        if (--_count == 0 && _capacity != _baseCapacity)
            Shrink();
    }

    // Empty after a burst: the fixed slots again, and the budget gets the rest back. The grown slots are kept, not
    // charged, for the next burst (at most the budget's worth: what the largest growth was charged).
    private void Shrink()
    {
        if (_entries.Length > _spareEntries.Length)
            (_spareEntries, _spareSlab) = (_entries, _slab);
        _entries = _baseEntries;
        _slab = _baseSlab;
        _capacity = _baseCapacity;
        _head = 0;
        _budget!.Release(_charged);
        _charged = 0;
    }
}
