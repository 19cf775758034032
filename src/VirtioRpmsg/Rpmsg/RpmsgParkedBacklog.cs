namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The dispatcher's private backlog of received messages copied out of shared memory while it is
/// blocked inside a callback (see <see cref="RpmsgRxDispatcher"/>): a FIFO of at most one message per
/// buffer, each with a payload slot of <c>maxPayload</c> bytes. Dispatcher thread only; allocated on
/// first use, because most applications never block inside a callback.
/// </summary>
internal sealed class RpmsgParkedBacklog
{
    private readonly int _capacity;
    private readonly int _slotSize;
    private byte[] _slab = [];
    private Entry[] _entries = [];
    private int _head;
    private int _count;

    private readonly record struct Entry(uint Source, uint Destination, int Length);

    internal RpmsgParkedBacklog(int capacity, int slotSize)
    {
        _capacity = capacity;
        _slotSize = slotSize;
    }

    internal int Count => _count;

    internal bool IsFull => _count >= _capacity;

    /// <summary>Allocates the slots (once).</summary>
    internal void EnsureAllocated()
    {
        if (_entries.Length != 0)
            return;
        _entries = new Entry[_capacity];
        _slab = new byte[_capacity * _slotSize];
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

    internal void Pop()
    {
        _head = (_head + 1) % _capacity;
        _count--;
    }
}
