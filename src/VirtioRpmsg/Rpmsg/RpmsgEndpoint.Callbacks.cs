using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Entering and leaving a receive callback, and a destroy's wait for the running ones.
/// <para>
/// A callback on any thread but the device's dispatcher thread counts itself in with a locked increment,
/// then checks the destroyed flag (a Dekker pair with <see cref="MarkDestroyed"/>'s exchange, then
/// <see cref="WaitForCallbacks"/>). The dispatcher thread, which runs nearly every callback, instead stores
/// the endpoint into its device's slot (<see cref="RpmsgRxDispatcher.ThreadCallback"/>) with a plain store,
/// then checks the flag; the destroying thread runs a process-wide barrier between its flag store and its
/// look at the slot, which acts as a full fence on the dispatcher thread (as a lease's acquire does against
/// an unmap): either the slot store is visible to the look, or the flag check comes after the barrier and
/// sees the flag. That saves two locked instructions (full fences) per message on the hot path. Without a process-wide barrier the kernel would fall back on (see
/// <see cref="SharedMemoryRegion.AcquirerNeedsFence"/>), the dispatcher fences after its store instead.
/// </para>
/// </summary>
public sealed partial class RpmsgEndpoint
{
    // The endpoint whose callback this thread is running, so destroy-from-own-callback does not wait for itself.
    [ThreadStatic]
    private static RpmsgEndpoint? t_inCallback;

    /// <summary>
    /// Copies a message into the destination of this endpoint's reader whose poll took it (<see cref="RpmsgDirectReceive"/>);
    /// false (deliver it as usual) unless the queue can hand it over unseen. No callback is entered: the only memory
    /// written is the polling reader's own destination, on its own thread, so a destroy has nothing to wait for.
    /// </summary>
    internal bool TryDeliverDirect(uint source, ReadOnlySpan<byte> payload, ref RpmsgDirectReceive direct)
    {
        if (direct.Done || _queue is null || !ReferenceEquals(direct.Queue, _queue) || Volatile.Read(ref _destroyed) != 0)
            return false;
        if (!_queue.TryHandDirect(source, payload, ref direct))
            return false;
        LearnRemoteAddress(source);
        return true;
    }

    /// <summary>Learns the remote address, then enters a callback unless destroyed; marks this thread as inside it.</summary>
    private bool TryEnterCallback(uint source, out RpmsgEndpoint? outer)
    {
        LearnRemoteAddress(source);
        outer = t_inCallback;
        if (Device.Gate.IsJoinedByStop)
        {
            // Store, then check: the destroyer's process-wide barrier orders the pair (class remarks).
            var rx = Device.Rx;
            Volatile.Write(ref rx.ThreadCallback, this);
            if (SharedMemoryRegion.AcquirerNeedsFence)
                Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _destroyed) != 0)
            {
                Volatile.Write(ref rx.ThreadCallback, null);
                return false;
            }
            t_inCallback = this;
            return true;
        }
        // Increment, then check: pairs with Destroy's set-then-wait (Interlocked = full fences).
        Interlocked.Increment(ref _callbacksRunning);
        if (Volatile.Read(ref _destroyed) != 0)
        {
            Interlocked.Decrement(ref _callbacksRunning);
            return false;
        }
        t_inCallback = this;
        return true;
    }

    private void ExitCallback(RpmsgEndpoint? outer)
    {
        t_inCallback = outer;
        // The dispatcher thread runs no callback of its own device inside another (Poll from a callback throws).
        if (Device.Gate.IsJoinedByStop)
            Volatile.Write(ref Device.Rx.ThreadCallback, null); // release: the callback's work is done first
        else
            Interlocked.Decrement(ref _callbacksRunning);
    }

    /// <summary>
    /// Marks destroyed and waits for running callbacks (except the caller's own). Device calls this after unpublishing.
    /// <paramref name="byPeer"/>: the peer's DESTROY removed this endpoint's channel, and what the peer sent before it is
    /// still read (readers drain the queue, then see the destroyed state); the application's Dispose drops the rest.
    /// </summary>
    internal bool MarkDestroyed(bool byPeer = false)
    {
        if (byPeer)
            _peerDestroyed = true; // before the flag: a reader that sees it destroyed sees why
        if (Interlocked.Exchange(ref _destroyed, 1) != 0)
            return false;
        WakeWaiters(); // queue readers drain what is queued, then see the destroyed state
        // Senders waiting for a tx buffer re-check their endpoint (RpmsgTxPath): this one's end now, not at their timeout.
        if (Device.Tx.Waiters > 0)
            Device.Tx.Signal();
        return true;
    }

    /// <summary>Test hook: raised on a destroying thread that found the dispatcher thread inside this endpoint's callback.</summary>
    internal Action? WaitingForDispatcherCallback { get; set; }

    /// <summary>
    /// Waits out running callbacks, then drops what is still queued (<paramref name="drain"/>): a destroyed endpoint is
    /// read no more. Stop keeps it: its readers get what is queued, then the device's unavailability.
    /// </summary>
    internal void WaitForCallbacks(bool drain = true)
    {
        // Destroying from inside this endpoint's own callback: that running callback is ours, do not wait for it.
        int self = ReferenceEquals(t_inCallback, this) ? 1 : 0;
        var spin = new SpinWait();
        while (Volatile.Read(ref _callbacksRunning) > self)
            spin.SpinOnce(sleep1Threshold: 20);
        // The dispatcher thread's callback: not ours when we are that thread (our own, or another endpoint's running).
        // A thread Stop joined runs nothing any more, and one not started yet will see the flag.
        if (!Device.Gate.IsJoinedByStop && Device.DispatcherThreadAlive)
        {
            // After the flag's store (MarkDestroyed, on every path here): a fence on the dispatcher thread too.
            Interlocked.MemoryBarrierProcessWide();
            var rx = Device.Rx;
            if (ReferenceEquals(Volatile.Read(ref rx.ThreadCallback), this))
                WaitingForDispatcherCallback?.Invoke();
            while (ReferenceEquals(Volatile.Read(ref rx.ThreadCallback), this))
                spin.SpinOnce(sleep1Threshold: 20);
        }
        if (drain)
            _queue?.Drain();
    }
}
