using System.Runtime.CompilerServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

// One read at a time, and the dispose that ends the read waiting for a message. A read waits on a token of the
// stream's own (linked with the caller's, once per caller token, as the pipe's Input does), so that nothing is
// allocated per read and Dispose can cancel the receive underneath: a receive left parked would take the endpoint's
// next message after the stream is gone.
public sealed partial class RpmsgStream
{
    private readonly CancellationTokenSource _dispose = new(); // cancelled by Dispose, never disposed (its token outlives it)
    private CancellationTokenSource? _linked;                  // _dispose with the caller's token _linkedWith
    private CancellationToken _linkedWith;
    private CancellationTokenSource? _writeLinked;        // _dispose with the caller's token _writeLinkedWith (writes)
    private CancellationToken _writeLinkedWith;
    private int _reading; // 1 while a read waits for a message: a second one, even on another thread at once, is refused
    private int _disposed;

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    private CancellationToken DisposeToken => _dispose.Token;

    private void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw DisposedError();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ObjectDisposedException DisposedError() =>
        new(nameof(RpmsgStream), $"the stream over endpoint 0x{Endpoint.Address:X} was disposed");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private InvalidOperationException ReadPendingError() =>
        new($"RpmsgStream over endpoint 0x{Endpoint.Address:X}: a read is already pending (a Stream allows one read at a time)");

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal InvalidOperationException WritePendingError() =>
        new($"RpmsgStream over endpoint 0x{Endpoint.Address:X}: a write is already pending (a Stream allows one write at a time; await it first)");

    private bool IsReading => Volatile.Read(ref _reading) != 0;

    // A compare-exchange: two reads racing on two threads would share the reused read object (RpmsgStreamRead), and
    // its double completion on a pool thread would end the process.
    private bool TryBeginRead()
    {
        BeforeBeginRead?.Invoke();
        return Interlocked.CompareExchange(ref _reading, 1, 0) == 0;
    }

    /// <summary>Tests: runs after a read's first look at the pending flag, before it claims the flag.</summary>
    internal Action? BeforeBeginRead { get; set; }

    private void BeginRead()
    {
        if (!TryBeginRead())
            throw ReadPendingError();
    }

    /// <summary>The read ended (before its result is handed out: the continuation may start the next read).</summary>
    internal void EndRead()
    {
        // No fence of its own: Dispose, rare, fences process-wide between its exchange and its look at _reading (the
        // asymmetric Dekker of membarrier), so this store is seen before the load below as far as Dispose can tell.
        Volatile.Write(ref _reading, 0);
        if (SharedMemoryRegion.AcquirerNeedsFence)
            Interlocked.MemoryBarrier(); // a kernel without expedited membarrier: the fence is ours (as the lease's)
        if (IsDisposed)
            DisposeLinked();
    }

    /// <summary>Starts receiving the next message into <c>_pending</c>, ended by the caller's token or the dispose.</summary>
    internal ValueTask<RpmsgReceiveResult> ReceiveNext(CancellationToken caller) => Endpoint.ReceiveAsync(_pending, ReceiveToken(caller));

    private CancellationToken ReceiveToken(CancellationToken caller) => Linked(ref _linked, ref _linkedWith, caller);

    // As ReceiveToken, for the sends of a write (one write at a time, as reads). A dispose cancels the linked source
    // through _dispose before it disposes it, so a write that still holds its token sees it cancelled.
    private CancellationToken WriteToken(CancellationToken caller) => Linked(ref _writeLinked, ref _writeLinkedWith, caller);

    // The dispose token with the caller's, linked once per caller token (a new link only when the caller's changes).
    private CancellationToken Linked(ref CancellationTokenSource? source, ref CancellationToken linkedWith, CancellationToken caller)
    {
        if (!caller.CanBeCanceled)
            return DisposeToken;
        if (source is null || linkedWith != caller)
        {
            source?.Dispose();
            source = CancellationTokenSource.CreateLinkedTokenSource(caller, DisposeToken);
            linkedWith = caller;
        }
        return source.Token;
    }

    /// <summary>
    /// A read's failure that is the end of the stream instead: the channel's endpoint destroyed by the peer's name-service
    /// DESTROY, and its queue read to the end (this stream not disposed).
    /// </summary>
    internal bool IsEndOfStream(Exception e) => e is ObjectDisposedException && !IsDisposed && Endpoint.IsDestroyedByPeer;

    /// <summary>What a failed read or write reports: the dispose that ended it, the caller's own cancellation, or the receive's or send's failure.</summary>
    internal Exception Failure(Exception e, CancellationToken caller)
    {
        if (e is not OperationCanceledException cancelled)
            return e;
        if (IsDisposed)
            return DisposedError();
        // The receive saw the linked token: report the caller's.
        return caller.IsCancellationRequested && cancelled.CancellationToken != caller ? new OperationCanceledException(caller) : e;
    }

    /// <summary>
    /// Ends a read waiting for a message with <see cref="ObjectDisposedException"/>; every later read and write throws
    /// it. The endpoint is not disposed.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _dispose.Cancel(); // the parked receive completes on the pool, and its read reports the dispose; a waiting write too
            Interlocked.Exchange(ref _writeLinked, null)?.Dispose(); // cancelled first: a write holding its token ends
            Interlocked.MemoryBarrierProcessWide(); // against a read's end (EndRead)
            if (!IsReading)
                DisposeLinked(); // else the read's end does
        }
        base.Dispose(disposing);
    }

    private void DisposeLinked()
    {
        Interlocked.Exchange(ref _linked, null)?.Dispose();
    }
}
