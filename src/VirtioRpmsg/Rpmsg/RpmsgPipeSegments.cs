using System.Buffers;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The bytes <see cref="RpmsgPipeReader"/> received and its reader has not consumed: a chain of pooled arrays that
/// messages are copied into back to back, read as one <see cref="ReadOnlySequence{T}"/>. Only the reader's own calls
/// touch it (a read appends, AdvanceTo consumes, one at a time), so it needs no lock. Consumed segments are kept for
/// reuse: a reader that keeps up (an echo, a line protocol) writes into the same array again and again, and nothing
/// is allocated per message.
/// </summary>
internal sealed class RpmsgPipeSegments
{
    private readonly int _segmentSize;
    private Segment? _head;
    private int _headStart;
    private Segment? _tail;
    private Segment? _spare;

    internal RpmsgPipeSegments(int maxMessage) => _segmentSize = Math.Max(4096, maxMessage);

    /// <summary>The unconsumed bytes, from the first unconsumed one to the last received.</summary>
    internal ReadOnlySequence<byte> Readable =>
        _head is null ? default : new ReadOnlySequence<byte>(_head, _headStart, _tail!, _tail!.End);

    /// <summary>True when nothing received is left unconsumed.</summary>
    internal bool IsEmpty => _head is null || (_head == _tail && _headStart == _tail.End);

    /// <summary>True when the last segment has room for <paramref name="size"/> more bytes.</summary>
    internal bool HasRoomFor(int size) => _tail is not null && _tail.Array.Length - _tail.End >= size;

    /// <summary>Room for a whole message (<paramref name="size"/> bytes) at the end, in the last segment or a new one.</summary>
    internal Memory<byte> WritableFor(int size)
    {
        if (_tail is not null && _tail.Array.Length - _tail.End >= size)
            return _tail.Array.AsMemory(_tail.End);
        var segment = _spare ?? new Segment();
        _spare = null;
        segment.Reset(ArrayPool<byte>.Shared.Rent(Math.Max(_segmentSize, size)));
        if (_tail is null)
        {
            _head = _tail = segment;
            _headStart = 0;
        }
        else
        {
            _tail.Append(segment);
            _tail = segment;
        }
        return segment.Array.AsMemory();
    }

    /// <summary>The <paramref name="count"/> bytes just written into <see cref="WritableFor"/>'s memory are readable.</summary>
    internal void Commit(int count) => _tail!.Grow(count);

    /// <summary>True when <paramref name="position"/> lies in the unconsumed bytes (what the last read returned, or later).</summary>
    internal bool Contains(SequencePosition position)
    {
        if (_head is null)
            return position.GetObject() is null; // nothing held: the empty sequence's own positions
        if (position.GetObject() is not Segment target)
            return false;
        int index = position.GetInteger();
        for (var s = _head; s is not null; s = (Segment?)s.Next)
        {
            if (s == target)
                return index >= (s == _head ? _headStart : 0) && index <= s.End;
        }
        return false;
    }

    /// <summary>Where <paramref name="position"/> (one <see cref="Contains"/> accepted) lies from the start of the chain.</summary>
    internal static long Offset(SequencePosition position) =>
        position.GetObject() is Segment segment ? segment.RunningIndex + position.GetInteger() : 0;

    /// <summary>True when <paramref name="position"/> is the end of what is readable now.</summary>
    internal bool IsEnd(SequencePosition position) =>
        _tail is null ? position.GetObject() is null : position.GetObject() == _tail && position.GetInteger() == _tail.End;

    /// <summary>
    /// Drops everything before <paramref name="consumed"/> (which <see cref="Contains"/> accepted). Emptied arrays go back
    /// to the pool, except the last, which is rewound and written again.
    /// </summary>
    internal void Consume(SequencePosition consumed)
    {
        if (_head is null)
            return;
        var target = (Segment)consumed.GetObject()!;
        while (_head != target)
        {
            var done = _head!;
            _head = (Segment)done.Next!;
            Release(done);
        }
        _headStart = consumed.GetInteger();
        if (_head == _tail && _headStart == _tail!.End)
        {
            // All read: write the next message at the start of the same array again (positions handed out before are
            // stale now, as a Pipe's are after AdvanceTo).
            _tail.Rewind();
            _headStart = 0;
        }
    }

    /// <summary>Returns every array to the pool (the reader is done; it must not touch what it was given any more).</summary>
    internal void Clear()
    {
        while (_head is not null)
        {
            var done = _head;
            _head = (Segment?)done.Next;
            Release(done);
        }
        _tail = null;
        _headStart = 0;
    }

    private void Release(Segment segment)
    {
        ArrayPool<byte>.Shared.Return(segment.Array);
        segment.Reset(Array.Empty<byte>());
        _spare ??= segment;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        internal byte[] Array { get; private set; } = [];

        internal int End { get; private set; }

        internal void Reset(byte[] array)
        {
            Array = array;
            End = 0;
            Memory = default;
            Next = null;
            RunningIndex = 0;
        }

        internal void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + End;
            Next = next;
        }

        internal void Grow(int count)
        {
            End += count;
            Memory = Array.AsMemory(0, End);
        }

        internal void Rewind()
        {
            End = 0;
            Memory = default;
            RunningIndex = 0;
        }
    }
}
