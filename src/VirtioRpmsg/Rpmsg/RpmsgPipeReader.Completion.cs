using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

// The reader's end: Complete (the application is done with Input) and Stop (the pipe's dispose), against a read that
// may be under way on another thread. The received bytes' arrays go back to the pool exactly once, and never while a
// read still writes into them or is about to hand them out.
internal sealed partial class RpmsgPipeReader
{
    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        Stop();
        // A read under way (a misuse) releases the buffers when it ends, once its own work on them is done, and fails:
        // each side stores its flag and looks at the other's, so at least one of them releases (once). The fence is
        // process-wide, here, so that a read's end needs none (a plain store, then a plain load; see EndRead).
        Interlocked.MemoryBarrierProcessWide();
        if (Volatile.Read(ref _reading) == 0)
            Release();
    }

    /// <summary>The pipe's dispose: a parked read ends, and every read from now on ends the input after what was received.</summary>
    internal void Stop()
    {
        CancellationTokenSource cancel;
        lock (_sync)
        {
            _stopped = true;
            cancel = _cancel;
        }
        cancel.Cancel();
        // No read under way: leave the caller's token now (a read under way does as it ends). Process-wide, as in Complete.
        Interlocked.MemoryBarrierProcessWide();
        if (Volatile.Read(ref _reading) == 0)
            Interlocked.Exchange(ref _linked, null)?.Dispose();
    }

    internal bool IsLinkedWithCallerToken => Volatile.Read(ref _linked) is not null; // tests

    // A read (ReadAsync or TryRead) begins: one at a time, and not after Complete (its flag, then its look at
    // _completed: Dekker with Complete, whose process-wide fence stands for ours).
    private void StartRead()
    {
        ThrowIfCompleted();
        // As a Pipe's: a buffer handed out must be settled with AdvanceTo before the next read (returning it again let a
        // reader that forgot AdvanceTo process the same bytes twice, or spin on them).
        if (_handedOut && !_segments.IsEmpty)
            throw new InvalidOperationException("Input: the last read's buffer was not advanced through; call AdvanceTo before reading again (a PipeReader allows one outstanding read)");
        if (Volatile.Read(ref _reading) != 0)
            throw new InvalidOperationException("Input: a read is already pending (a PipeReader allows one read at a time, and AdvanceTo only once it returned)");
        // A plain store, as StartAdvance's: two reads begun at once on two threads are a misuse a Pipe's reader does not
        // always catch either; against Complete the process-wide fence there orders it (else the fence is ours).
        Volatile.Write(ref _reading, 1);
        if (SharedMemoryRegion.AcquirerNeedsFence)
            Interlocked.MemoryBarrier();
        if (_completed)
        {
            EndRead(null); // Complete ran meanwhile, on another thread: it may have left the release to this read
            ThrowIfCompleted();
        }
    }

    // AdvanceTo begins: it follows the read that returned the buffer, on the reader's own thread, so a plain store marks
    // it (a read starting meanwhile on another thread is a misuse no PipeReader detects either). Against Complete and
    // Stop the store is ordered by their process-wide fence, as a read's end is.
    private void StartAdvance()
    {
        if (Volatile.Read(ref _reading) != 0)
            throw new InvalidOperationException("Input.AdvanceTo: a read is under way (AdvanceTo only once it returned)");
        Volatile.Write(ref _reading, 1);
        if (SharedMemoryRegion.AcquirerNeedsFence)
            Interlocked.MemoryBarrier();
        if (_completed)
        {
            EndRead(null);
            ThrowIfCompleted();
        }
    }

    // The read ends (with its result, or failed with error): a Complete that came while it ran (a misuse, from another
    // thread or before a parked read ended) released, or left to this read, the arrays its result would show; then it
    // fails, saying so, instead of handing those out.
    private Exception? EndRead(Exception? error, string operation = "ReadAsync")
    {
        // No fence of its own (two locked instructions per pipe round trip were measurable on the IDuplexPipe path):
        // Complete and Stop, rare, pay a process-wide one between their store and their look at _reading, which orders
        // this store before the loads below as seen from them (the asymmetric Dekker of membarrier).
        Volatile.Write(ref _reading, 0);
        if (SharedMemoryRegion.AcquirerNeedsFence)
            Interlocked.MemoryBarrier(); // a kernel without expedited membarrier: the fence is ours (as the lease's)
        if (_stopped && !_completed)
            Interlocked.Exchange(ref _linked, null)?.Dispose(); // a Stop during this read left the caller's token to it
        if (!_completed)
            return error;
        Release();
        return new InvalidOperationException(
            $"Input.{operation}: the reader was completed (Input.Complete) while this call was under way; what was received was released with the reader");
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
            throw new InvalidOperationException("Input: reading is not allowed after the reader was completed");
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
            return;
        _segments.Clear();
        Interlocked.Exchange(ref _linked, null)?.Dispose();
    }

    // How the endpoint's end reaches Input: a destroyed endpoint ends it quietly; a stopped or broken device fails it
    // with why, also when the read began only after that (the device's end destroys the endpoint, and a receive begun
    // then reports that); anything else fails it as it is.
    private Exception? EndOf(Exception e) => e switch
    {
        OperationCanceledException => null,
        ObjectDisposedException when _endpoint.Device.State is RpmsgDeviceState.Stopped or RpmsgDeviceState.Broken => _endpoint.Device.Unavailable(_endpoint.Device.State),
        ObjectDisposedException => null,
        _ => e,
    };
}
