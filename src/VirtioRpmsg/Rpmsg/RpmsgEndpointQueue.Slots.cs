using System.Buffers;

namespace VirtioRpmsg.Rpmsg;

// The queue's storage: a ring of slots, written by the single writer (the rx ring's owner) without a lock and read by
// readers under _readLock. One word (_state) holds the count of queued messages and the closed bit: the writer
// publishes a filled slot by a compare-and-swap on it that fails once the queue is closed, so no message is ever
// queued after Close (what a drain after Close finds is all there will be, as with a completed channel).
//
// Why not a Channel<T> and ArrayPool per message (as before): that was two passes through the channel's lock, a rent
// and a return, on every message a queue reader gets. The first few slots keep their arrays between messages; a
// queue that went deeper gives the rest back to the pool as they are read, so an idle queue holds at most
// RetainedSlots small arrays beyond what the budget charges, whatever a peer once made it hold.
internal sealed partial class RpmsgEndpointQueue
{
    private const int ClosedBit = 1 << 30;     // in _state: closed, no more writes (capacity is far below)
    private const int CountMask = ClosedBit - 1;
    internal const int MaxCapacity = CountMask; // a count past it would set the closed bit (RpmsgDeviceOptions refuses more)
    private const int InitialSlots = 16;       // the ring grows (doubling, up to Capacity) only when a queue gets deep
    internal const int RetainedSlots = 4;      // slots that keep their array once read
    internal const int RetainedArrayBytes = 512; // ... if it is this small (a standard rpmsg buffer's payload fits)

    private struct Slot
    {
        internal byte[]? Buffer; // the payload; kept by a retained slot after it is read
        internal uint Source;
        internal int Length;
    }

    private Slot[] _slots;  // replaced (grown) by the writer under _readLock
    private int _state;     // queued messages (CountMask) | ClosedBit
    private int _tail;      // the writer's next slot
    private int _head;      // the readers' next slot (under _readLock; reset by the writer only when nothing is queued)

    /// <summary>Tests: runs on the writer when every slot is queued, just before the growth takes the readers' lock.</summary>
    internal Action? BeforeGrow;

    /// <summary>Messages queued now (written and not yet read or drained).</summary>
    internal int Count => Volatile.Read(ref _state) & CountMask;

    /// <summary>True once closed and drained: nothing will ever be read again.</summary>
    internal bool IsClosed => Volatile.Read(ref _state) == ClosedBit;

    /// <summary>Arrays the slots hold now, queued or kept (tests: what an idle queue keeps).</summary>
    internal int HeldArrays
    {
        get
        {
            int held = 0;
            lock (_readLock)
            {
                foreach (var slot in _slots)
                    held += slot.Buffer is null ? 0 : 1;
            }
            return held;
        }
    }

    /// <summary>The writer's copy into the next slot and its publication; false when full or closed (nothing queued).</summary>
    private bool TryWrite(uint source, ReadOnlySpan<byte> payload)
    {
        int state = Volatile.Read(ref _state);
        int count = state & CountMask;
        if ((state & ClosedBit) != 0 || count >= Capacity)
            return false;
        if (count == 0 && _tail != 0)
        {
            // Empty: start over at the first slot, whose array is kept. Safe: a reader looks at _head only with a
            // message queued, and only this thread queues one (its publication below orders these stores first).
            _head = 0;
            _tail = 0;
        }
        var slots = _slots;
        if (count == slots.Length)
        {
            BeforeGrow?.Invoke();
            slots = Grow();
        }
        int tail = _tail;
        ref var slot = ref slots[tail];
        var buffer = slot.Buffer;
        if (buffer is null || buffer.Length < payload.Length)
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
            slot.Buffer = buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        }
        payload.CopyTo(buffer);
        slot.Source = source;
        slot.Length = payload.Length;
        // Publication: readers only take (the count falls), Close only sets the bit; a full fence, as TryEnqueue's
        // Dekker pair with a sleeping reader needs.
        while (Interlocked.CompareExchange(ref _state, state + 1, state) != state)
        {
            state = Volatile.Read(ref _state);
            if ((state & ClosedBit) != 0)
                return false; // the filled slot stays unpublished (its array kept, as a read slot's is)
        }
        _tail = tail + 1 == slots.Length ? 0 : tail + 1;
        return true;
    }

    // The writer, with every slot queued (and room under Capacity): a ring twice as large, the queued slots first.
    private Slot[] Grow()
    {
        lock (_readLock)
        {
            var old = _slots;
            var grown = new Slot[Math.Min(old.Length * 2, Capacity)];
            // Readers may have taken some meanwhile (not since: they need this lock): the queued ones start at 0. The
            // arrays free slots kept go back to the pool: moved past the first slots they would stay held when idle.
            int queued = Count;
            for (int i = 0; i < old.Length; i++)
            {
                ref var slot = ref old[(_head + i) % old.Length];
                if (i < queued)
                    grown[i] = slot;
                else if (slot.Buffer is { } kept)
                    ArrayPool<byte>.Shared.Return(kept);
            }
            _tail = queued;
            _head = 0;
            _slots = grown;
            return grown;
        }
    }

    /// <summary>Under <c>_readLock</c>: the next message's length; false when none is queued.</summary>
    private bool TryPeekLength(out int length)
    {
        if (Count == 0)
        {
            length = 0;
            return false;
        }
        length = _slots[_head].Length;
        return true;
    }

    /// <summary>
    /// Under <c>_readLock</c>, with a message queued: copies it into <paramref name="destination"/> (which it fits; a
    /// drain passes none and copies nothing) and takes it off the queue; the messages still queued after it.
    /// </summary>
    private int TakeSlot(Span<byte> destination, bool copy, out uint source, out int length)
    {
        var slots = _slots;
        int head = _head;
        ref var slot = ref slots[head];
        var buffer = slot.Buffer!;
        source = slot.Source;
        length = slot.Length;
        if (copy)
            buffer.AsSpan(0, length).CopyTo(destination);
        if (head >= RetainedSlots || buffer.Length > RetainedArrayBytes)
        {
            slot.Buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _head = head + 1 == slots.Length ? 0 : head + 1;
        // After the slot is read and the head moved: the writer may then fill it (and reset the head once empty).
        return Interlocked.Decrement(ref _state) & CountMask;
    }
}
