using System.Diagnostics.CodeAnalysis;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A received payload in shared memory, valid while the view is open. Holds a mapping lease. The
/// <see cref="Payload"/> span is bound by the compiler to the scope of the view variable (it cannot be
/// returned or stored), and a copy of a disposed view throws <see cref="ObjectDisposedException"/>.
/// </summary>
public ref struct RpmsgRxView
{
    private MappingLease _lease;
    private RpmsgZeroCopyFence? _fence;
    private RpmsgRxBuffer? _pinned; // the buffer goes back to the peer no earlier than this view's Dispose
    private readonly byte[]? _private;
    private readonly long _offset;
    private readonly int _length;
    private readonly bool _leasedCopy; // Device memory: a private copy, with the lease kept to tell a live view (or copy) from a disposed one
    private bool _closed;
    // A parked message (no lease): a slot of this thread's lease table stands for the view, so a copy of it made before
    // its Dispose sees the slot freed (or retagged) and refuses the payload, as a copy of a disposed lease does.
    private ThreadLeaseTable? _token;
    private readonly int _tokenSlot;
    private readonly uint _tokenTag;

    internal RpmsgRxView(MappingLease lease, long offset, int length, RpmsgZeroCopyFence fence, RpmsgRxBuffer pinned)
    {
        _lease = lease;
        _fence = fence;
        _pinned = pinned;
        _offset = offset;
        _length = length;
    }

    // A message already copied out of shared memory (parked): no lease needed, a token tells this view from its copies.
    internal RpmsgRxView(byte[] copy, int length)
    {
        _private = copy;
        _length = length;
        var table = ThreadLeaseTable.Current;
        _tokenSlot = table.EnterToken(out _tokenTag);
        _token = table;
    }

    // Device memory: the payload copied out with aligned loads (into the buffer's bounce array). The view pins the
    // buffer and holds the fence as a view in place does, so the slot's object is not armed again (and its bounce array
    // not overwritten) while it is open; the lease makes this view and every copy of it refuse the payload once disposed.
    internal RpmsgRxView(MappingLease lease, byte[] copy, int length, RpmsgZeroCopyFence fence, RpmsgRxBuffer pinned)
    {
        _lease = lease;
        _fence = fence;
        _pinned = pinned;
        _private = copy;
        _length = length;
        _leasedCopy = true;
    }

    /// <summary>The payload bytes, in place, checked against the lease on every read of this property.</summary>
    /// <exception cref="ObjectDisposedException">The view (or the view this one is a copy of) was disposed.</exception>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Payload
    {
        get
        {
            if (_private is null)
                return _lease.GetReadOnlySpan(_offset, _length);
            if (_closed || !(_leasedCopy ? _lease.IsActive : _token!.Holds(_tokenSlot, _tokenTag)))
                ThrowDisposed();
            return _private.AsSpan(0, _length);
        }
    }

    /// <summary>Releases the lease (and the buffer, if it was disposed while this view was open).</summary>
    public void Dispose()
    {
        var fence = _fence;
        var pinned = _pinned;
        _fence = null;
        _pinned = null;
        _closed = true;
        _lease.Dispose(); // a copy of a disposed view throws here, before it could end the access a second time
        if (_token is { } token)
        {
            _token = null;
            // A view is a ref struct: disposed on the thread that opened it, whose table this is.
            if (!token.TryExit(_tokenSlot, _tokenTag))
                throw new InvalidOperationException("An rx view was disposed twice (a copy of a disposed view); dispose a view exactly once (do not copy it).");
        }
        fence?.Exit();
        pinned?.Unpin();
    }

    [DoesNotReturn]
    private static void ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(RpmsgRxView), "The rx view was disposed; open the buffer again while it is held.");
}
