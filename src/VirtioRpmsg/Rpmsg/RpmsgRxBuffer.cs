using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A received message left in its shared buffer (zero-copy receive). Read it through
/// <see cref="Open"/>; keep it past the handler with <see cref="Hold"/> and give it back with
/// <see cref="Dispose"/>. One instance per buffer slot is reused, so do not keep references after release.
/// </summary>
public sealed class RpmsgRxBuffer : IDisposable
{
    private readonly RpmsgRxDispatcher _dispatcher;
    private int _state; // 0 free, 1 in handler, 2 held, 3 held and handler returned
    private RegionHandle _region;
    private long _payloadOffset;
    private byte[]? _private; // set when the message was already copied out of shared memory (parked)
    private byte[]? _bounce;  // Device memory: the payload copied out with aligned loads, reused per slot
    private int _pins;        // 1 for the message until it is released, plus 1 per open view of it: it goes back at 0
    private bool _retire;     // released by Dispose: the slot gets a fresh object as it goes back

    internal RpmsgRxBuffer(RpmsgRxDispatcher dispatcher, int id)
    {
        _dispatcher = dispatcher;
        Id = id;
    }

    internal int Id { get; }

    /// <summary>True once a view on Device memory made this slot's private copy (tests: CopyTo makes none).</summary>
    internal bool HasPrivateCopy => _bounce is not null;

    /// <summary>Sender's address.</summary>
    public uint Source { get; private set; }

    /// <summary>Destination address (ours).</summary>
    public uint Destination { get; private set; }

    /// <summary>Payload length in bytes.</summary>
    public int Length { get; private set; }

    /// <summary>True until released.</summary>
    public bool IsLive => Volatile.Read(ref _state) != 0;

    /// <summary>
    /// True while the buffer is not back with the peer: its message is live, or it was released while a view of it is
    /// still open (the view gives it back as it closes). A peer that hands it to us again meanwhile reused it unreturned.
    /// Also true for a disposed (retired) object still in its slot: its last pin is gone, but ReleaseHeld has not yet
    /// swapped in the slot's fresh object, so the buffer is not back with the peer either (Dispose sets the flag before
    /// the interlocked Unpin that can reach 0: a reader that sees 0 pins sees it).
    /// </summary>
    internal bool IsPinned => Volatile.Read(ref _pins) != 0 || Volatile.Read(ref _retire);

    internal void ArmPrivate(byte[] payload, int length, uint source, uint destination)
    {
        _private = payload;
        Length = length;
        Source = source;
        Destination = destination;
        _pins = 1;
        _retire = false;
        Volatile.Write(ref _state, 1);
    }

    internal void Arm(RegionHandle region, long payloadOffset, int length, uint source, uint destination)
    {
        _private = null;
        _region = region;
        _payloadOffset = payloadOffset;
        Length = length;
        Source = source;
        Destination = destination;
        _pins = 1;
        _retire = false;
        Volatile.Write(ref _state, 1);
    }

    /// <summary>Opens the payload in place. Keep the view short and never block while it is open (it holds a lease).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was given back, or the device it came from has stopped (its
    /// memory unmapped or mapped again since: the <see cref="RegionClosedException"/> inside says which).</exception>
    /// <remarks>
    /// On Device memory the view is a private copy made with aligned loads (application code may read a span
    /// with unaligned SIMD, which Device memory does not allow); the view still pins the buffer as a view in place does.
    /// </remarks>
    public RpmsgRxView Open()
    {
        if (Volatile.Read(ref _state) == 0)
            throw Released();
        if (_private is not null)
            return new RpmsgRxView(_private, Length);
        var lease = EnterShared(out var fence);
        if (!lease.IsDeviceMemory)
            return new RpmsgRxView(lease, _payloadOffset, Length, fence, this);
        try
        {
            if (_bounce is null || _bounce.Length < Length)
                _bounce = new byte[Length];
            lease.ReadBytes(_payloadOffset, _bounce.AsSpan(0, Length));
        }
        catch
        {
            ExitShared(ref lease, fence);
            throw;
        }
        // The copy is ours, but the view pins the buffer (and holds the fence) as a view in place does: until it closes
        // the buffer is not given back, so this object is not armed with the slot's next message, whose copy would go
        // into the bounce array this view shows. The lease makes a disposed view (or a copy of one) refuse its payload.
        return new RpmsgRxView(lease, _bounce, Length, fence, this);
    }

    /// <summary>Copies the payload out; returns the number of bytes copied.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Length"/>.</exception>
    /// <exception cref="ObjectDisposedException">As for <see cref="Open"/>.</exception>
    /// <remarks>One copy, straight into <paramref name="destination"/> (on Device memory with aligned loads).</remarks>
    public int CopyTo(Span<byte> destination)
    {
        if (destination.Length < Length)
            throw new ArgumentException($"destination of {destination.Length} bytes is smaller than the {Length}-byte message", nameof(destination));
        if (Volatile.Read(ref _state) == 0)
            throw Released();
        if (_private is not null)
        {
            _private.AsSpan(0, Length).CopyTo(destination);
            return Length;
        }
        var lease = EnterShared(out var fence);
        try
        {
            // ReadBytes takes the Device-safe copy on Device memory: no private copy in between (it would be a second).
            lease.ReadBytes(_payloadOffset, destination[..Length]);
        }
        finally
        {
            ExitShared(ref lease, fence);
        }
        return Length;
    }

    // Pins the buffer, enters the zero-copy fence and takes the lease, in that order (undone in reverse on failure).
    private MappingLease EnterShared(out RpmsgZeroCopyFence fence)
    {
        // The pin: a Dispose while a view is open gives the buffer back only when the view closes, so the view never
        // shows a message the peer wrote into it after.
        if (!TryPin())
            throw Released();
        // Its device stopped: the buffer is the ring's again, and a fresh device over it may have reposted it.
        fence = _dispatcher.ZeroCopy;
        if (!fence.TryEnter())
        {
            Unpin();
            throw Stopped(null);
        }
        _dispatcher.ZeroCopyEntered?.Invoke();
        try
        {
            return _region.Acquire();
        }
        catch (Exception e)
        {
            fence.Exit();
            Unpin();
            // Unmapped, or mapped again for a new session, since the fence was passed: the device stopped under this
            // open, and the caller gets what a stopped device's buffer gets (the region's reason inside), not a memory error.
            if (e is RegionClosedException closed)
                throw Stopped(closed);
            throw;
        }
    }

    private void ExitShared(ref MappingLease lease, RpmsgZeroCopyFence fence)
    {
        lease.Dispose();
        fence.Exit();
        Unpin();
    }

    private static ObjectDisposedException Released() =>
        new(nameof(RpmsgRxBuffer), "The rx buffer was already given back to the peer.");

    private static ObjectDisposedException Stopped(RegionClosedException? memory) => memory is null
        ? new(nameof(RpmsgRxBuffer), "The device this rx buffer came from has stopped; its buffer is no longer ours to read.")
        : new($"The device this rx buffer came from has stopped; its buffer is no longer ours to read ({memory.Message}).", memory);

    /// <summary>Keeps the buffer after the handler returns; the peer gets it back only on <see cref="Dispose"/>.</summary>
    public void Hold()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
            throw new InvalidOperationException("Hold is only possible inside the zero-copy handler, once.");
    }

    /// <summary>Called by the dispatcher after the handler: releases unless held.</summary>
    internal void HandlerReturned()
    {
        if (Interlocked.CompareExchange(ref _state, 0, 1) == 1)
        {
            Unpin();
            return;
        }
        // Held: mark that the handler is done so Dispose releases.
        Interlocked.CompareExchange(ref _state, 3, 2);
    }

    private bool TryPin()
    {
        while (true)
        {
            int pins = Volatile.Read(ref _pins);
            if (pins == 0)
                return false;
            if (Interlocked.CompareExchange(ref _pins, pins + 1, pins) == pins)
                return true;
        }
    }

    /// <summary>Ends a pin (the message's own, at its release, or an open view's): the last one gives the buffer back.</summary>
    internal void Unpin()
    {
        if (Interlocked.Decrement(ref _pins) != 0)
            return;
        // A parked copy has no shared buffer left to give back.
        if (_private is null)
            _dispatcher.ReleaseHeld(Id, _retire ? this : null);
    }

    /// <summary>
    /// Gives a held buffer back to the peer (when a view of it is still open, as that view closes). Idempotent: once
    /// released, this object stays released (the next message in the same buffer comes in another one).
    /// </summary>
    public void Dispose()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if (s == 0 || s == 1)
                return; // already released, or still in the handler without Hold: the dispatcher releases it.
            if (Interlocked.CompareExchange(ref _state, 0, s) == s)
            {
                // The application held this object past its handler, so it may dispose it again: it is retired (its
                // slot gets a fresh one) before the buffer goes back, and a later Dispose, Open or Hold of it can never
                // reach the next message the peer puts in the same buffer.
                _retire = true;
                Unpin(); // a view still open gives it back as it closes
                return;
            }
        }
    }
}
