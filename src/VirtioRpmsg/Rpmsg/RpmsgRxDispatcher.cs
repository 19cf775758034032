using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The receive side of a device: takes messages off the rx ring, validates each header once into a
/// private copy, and delivers to endpoints (copy, queue or zero-copy). Runs on whoever owns the rx
/// ring (<see cref="RpmsgRxRingOwner"/>): the dispatcher thread or a <see cref="Poll()"/> caller.
/// <para>
/// Parking: a callback that blocks sending (no free tx buffer) stops this side from returning the
/// peer's buffers; if the peer in turn blocks sending to us, both wait forever. While the dispatcher
/// waits inside a callback it therefore copies newly received messages into a private backlog
/// (<see cref="RpmsgParkedBacklog"/>) and gives their buffers back at once. The backlog is delivered,
/// in order, before anything else afterwards (RpmsgRxDispatcher.Parking.cs).
/// </para>
/// <para>
/// Batches: messages for copy and queue endpoints are taken up to 16 at a time into a second, small backlog,
/// and their buffers go back with one publication before the first of their callbacks runs (one index
/// store and one notification check per batch instead of per message; RpmsgRxDispatcher.Delivery.cs).
/// </para>
/// </summary>
internal sealed partial class RpmsgRxDispatcher
{
    [ThreadStatic]
    private static RpmsgRxDispatcher? t_current;
    [ThreadStatic]
    private static bool t_isThread;

    private readonly RpmsgDevice _device;
    private readonly RpmsgEndpointTable _endpoints;
    private readonly RpmsgDeviceCounters _counters;
    private readonly RpmsgDataGate _gate;
    private readonly RpmsgRxRingOwner _owner = new();
    // A CallerPoll Poll reads the kicks that come anyway (on the ring owner's thread).
    private readonly RpmsgKickDrain _drain = new();
    private readonly RpmsgParkedBacklog _parked;
    // Messages taken from the ring in one go and delivered after their buffers went back (TakeBatch).
    private readonly RpmsgParkedBacklog _batch;
    private RpmsgRxBuffer[] _held = [];
    private int _dispatcherDeferred;
    // Buffers given back and not yet published, the one still waiting in _release included (the rx ring's owner only).
    // A batch publishes once (one store to the index line the peer polls, one fence and notification check), at most
    // this many late.
    private const int FlushEvery = 16;
    private int _unflushed;
    // The last buffer given back, re-posted by the next take (ReceiveNext) or Flush; -1 when none.
    private int _release = -1;

    /// <summary>The endpoint whose callback the dispatcher thread is running (written by that thread only; RpmsgEndpoint.Callbacks.cs).</summary>
    internal RpmsgEndpoint? ThreadCallback;

    internal RpmsgRxDispatcher(RpmsgDevice device, RpmsgEndpointTable endpoints, RpmsgDeviceCounters counters, RpmsgDataGate gate, int bufferSize, int bufferCount)
    {
        _device = device;
        _endpoints = endpoints;
        _counters = counters;
        _gate = gate;
        int slot = bufferSize - RpmsgHeader.Size;
        _parked = new RpmsgParkedBacklog(bufferCount, slot, device.QueueBudget);
        // Up to FlushEvery messages, at most 16 KB of slots (one slot, no batching, for 16 KB buffers and up).
        _batch = new RpmsgParkedBacklog(Math.Clamp(16 * 1024 / Math.Max(1, slot), 1, FlushEvery), slot);
        _batch.EnsureAllocated();
        HandOver = new RpmsgDoorbellHandOver(device);
    }

    /// <summary>Who consumes the rx ring, and whether application threads are polling it (spinning readers).</summary>
    internal RpmsgRxRingOwner Owner => _owner;

    /// <summary>The device's fence for the application's zero-copy access (a held buffer's view).</summary>
    internal RpmsgZeroCopyFence ZeroCopy => _device.ZeroCopy;

    /// <summary>Who waits on the doorbell: the dispatcher thread, or a blocked reader it lent it to (Interrupt).</summary>
    internal RpmsgDoorbellHandOver HandOver { get; }

    /// <summary>
    /// Messages taken from the ring but not delivered yet (a batch or parked ones left by a budget-bounded pass).
    /// Read without the ring: a stale answer only delays them to the next look.
    /// </summary>
    internal bool HasBacklog => _batch.Count > 0 || _parked.Count > 0;

    /// <summary>True on a thread that is dispatching for this device (the dispatcher thread, or inside Poll).</summary>
    internal bool IsDispatcherContext => ReferenceEquals(t_current, this);

    /// <summary>The dispatcher thread marks itself for its whole life.</summary>
    internal void MarkDispatcherThread()
    {
        t_current = this;
        t_isThread = true;
    }

    /// <summary>Creates the zero-copy slots, one per buffer id the transport can hand us.</summary>
    internal void CreateHeldBuffers(int count)
    {
        var held = new RpmsgRxBuffer[count];
        for (int i = 0; i < held.Length; i++)
            held[i] = new RpmsgRxBuffer(this, i);
        _held = held;
    }

    /// <summary>
    /// Caller-driven dispatch: handles what is pending now and returns the number of messages
    /// handled. Never blocks; a Poll racing the dispatcher thread (or another Poll) does nothing.
    /// A Poll is a data operation (<see cref="RpmsgDataGate"/>): Stop waits for it, so it posts no rx
    /// buffer, publishes no index and rings no doorbell after Stop returned.
    /// </summary>
    internal int Poll()
    {
        var none = default(RpmsgDirectReceive);
        return Poll(ref none);
    }

    /// <summary><see cref="Poll()"/> for a spinning reader: its own message may land in <paramref name="direct"/>.</summary>
    internal int Poll(ref RpmsgDirectReceive direct)
    {
        if (IsDispatcherContext)
            throw new InvalidOperationException($"rpmsg device '{_device.Name}': Poll from inside a receive callback would deliver messages re-entrantly");
        int handled = 0;
        while (_owner.TryEnter())
        {
            // Whoever holds the ring looks at it after this: a request the dispatcher made before is served
            // by this pass. Cleared only by an owner, so a request made while another thread owns the ring
            // stays up for that owner's exit check (a Poll that sees it but cannot enter leaves it there).
            bool serving = Interlocked.Exchange(ref _dispatcherDeferred, 0) != 0;
            try
            {
                handled += PollOwned(ref direct, serving);
            }
            finally
            {
                _owner.Exit();
            }
            Released?.Invoke();
            // The dispatcher thread found the ring ours and went to sleep meanwhile: what arrived
            // after our last look is ours to handle (it will not be woken for it).
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _dispatcherDeferred) == 0)
                break;
        }
        return handled;
    }

    private int PollOwned(ref RpmsgDirectReceive direct, bool serving)
    {
        var outer = t_current;
        t_current = this;
        bool entered = false;
        DoorbellClosedException? closed = null;
        try
        {
            bool callerPolls = !RpmsgDispatcherThread.HasThread(_device.Options.WaitStrategy);
            if (callerPolls)
                closed = DrainDoorbell();
            if (_device.State == RpmsgDeviceState.Starting && _device.Role == RpmsgRole.Remote && !_device.TryCompleteRemoteLinkUp())
                return 0;
            if (!(entered = _gate.TryEnter(out _)))
            {
                _device.ThrowIfUnavailable();
                return 0;
            }
            // Nobody waits on the doorbell in CallerPoll: keep the peer's kicks off (the disable is
            // renewed once the EVENT_IDX "far" event could come within reach) and read whatever
            // kicks came anyway, so a peer whose kick blocks never fills the doorbell.
            var transport = _device.Transport!;
            if (callerPolls)
                transport.DisableRxNotifications();
            return ProcessPendingOwned(transport, ref direct, serving);
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e, faultAsUnavailable: true);
        }
        finally
        {
            if (entered)
                _gate.Exit();
            t_current = outer;
            if (closed is not null)
                _device.Break(RpmsgDevice.DoorbellClosedFault(closed));
        }
    }

    /// <summary>
    /// A Poll's pass over the ring. A spinning reader's pass (<paramref name="direct"/> has a queue) runs beside a
    /// dispatcher thread that may sleep on the doorbell with rx notifications on (it went idle before the reader came,
    /// or deferred to a poll): its takes leave the event where the dispatcher armed it, so the peer kicks once, not for
    /// every message taken (a system call on the peer's side and a dispatcher wake-up in each round trip). That one
    /// kick wakes the dispatcher, which then sleeps with them off while readers poll. Parking inside the pass still
    /// follows (ParkPending). A pass that serves the dispatcher's deferral, a reader's or any other, re-arms at its
    /// last look and re-checks: the dispatcher sleeps counting on that look, and an earlier reader's pass may have
    /// taken past the event it armed. Only while running: once the device stops or breaks nothing is taken, and a
    /// message left in the ring would keep the re-check failing (and Stop waiting for this pass).
    /// </summary>
    private int ProcessPendingOwned(IRpmsgTransport transport, ref RpmsgDirectReceive direct, bool serving)
    {
        bool reader = direct.Queue is not null;
        if (reader)
            transport.RxFollowsEvent = false;
        try
        {
            int handled = ProcessPending(int.MaxValue, ref direct);
            while (serving && _device.State == RpmsgDeviceState.Running && !transport.EnableRxNotifications())
                handled += ProcessPending(int.MaxValue, ref direct);
            return handled;
        }
        finally
        {
            if (reader)
                transport.RxFollowsEvent = true;
        }
    }

    /// <summary>A CallerPoll pass's drain of the doorbell; the peer's close, if it found that.</summary>
    private DoorbellClosedException? DrainDoorbell()
    {
        try
        {
            _drain.DrainIfDue(_device.Doorbell, reportClosed: true);
        }
        catch (ObjectDisposedException)
        {
            // Closed by a teardown racing this Poll: the state check below reports it.
        }
        catch (DoorbellClosedException e)
        {
            // The peer went away (it exited, or closed its socket): this Poll still takes what it left in the ring
            // (published without a kick, or before its last one), then the device breaks, as the dispatcher thread's
            // wait reports it, and the next Poll or operation tells the caller.
            return e;
        }
        return null;
    }

    /// <summary>
    /// The dispatcher thread's batch: the same ownership as Poll. False when a Poll owns the ring: the
    /// dispatcher then does not spin for it (issue 14, item 5) but sleeps on the doorbell; the Poll
    /// handles what arrives until it hands the ring back (the deferred flag, a Dekker pair with Poll's exit).
    /// Rx notifications are on when it returns false.
    /// </summary>
    internal bool TryProcessPendingOwned(int budget, out int handled)
    {
        handled = 0;
        if (!_owner.TryEnter())
        {
            // Notifications on before the request: the owner's look that serves the request comes after it, so
            // a message that look misses came after the enable's re-check, and the peer kicks for it. In the
            // other order a message landing between that look and the enable woke nobody until the idle re-check.
            var transport = _device.Transport!;
            transport.EnableRxNotifications();
            Volatile.Write(ref _dispatcherDeferred, 1);
            Interlocked.MemoryBarrier();
            if (!_owner.TryEnter())
            {
                Deferred?.Invoke();
                return false;
            }
            // The Poll left between the two looks: the ring is ours after all.
            transport.DisableRxNotifications();
        }
        // Our own look serves any request of ours still up.
        Volatile.Write(ref _dispatcherDeferred, 0);
        try
        {
            var none = default(RpmsgDirectReceive);
            handled = ProcessPending(budget, ref none);
            return true;
        }
        finally
        {
            _owner.Exit();
        }
    }

    /// <summary>Test hook: raised on a Poll's thread when it handed the rx ring back, before it checks for the dispatcher's request.</summary>
    internal Action? Released { get; set; }

    /// <summary>Test hook: raised on the dispatcher thread when it left the rx ring to a Poll and is about to sleep.</summary>
    internal Action? Deferred { get; set; }

    /// <summary>True on the dispatcher thread itself (not inside a Poll).</summary>
    internal bool IsDispatcherThread => t_isThread && IsDispatcherContext;

    private int ProcessPending(int budget, ref RpmsgDirectReceive direct)
    {
        var transport = _device.Transport!;
        int handled = 0;
        while (handled < budget && _device.State == RpmsgDeviceState.Running)
        {
            // A batch is older than what was parked during its callbacks, and parked messages are older than
            // anything still in the ring: they go first.
            if (_batch.Count > 0 || _parked.Count > 0)
            {
                DeliverBacklog(_batch.Count > 0 ? _batch : _parked, ref direct);
                // A polling reader got its message: it goes back to its caller without another look at the ring when
                // the batch's take found it empty just before (what came since waits for the next poll, as what comes
                // just after this one does); a batch that stopped full is followed by the rest, as for any Poll.
                if (direct.Done && _ringLookedEmpty && !HasBacklog)
                    break;
                continue;
            }
            int taken = TakeBatch(transport, budget - handled);
            if (taken == 0)
                break;
            handled += taken;
        }
        // Before anyone sleeps on this ring, the peer sees every buffer of the batch (and is kicked if it asked).
        Flush(transport);
        // A ring fault needs no check here: it was thrown above, and the caller breaks the device (see RpmsgDataGate).
        _device.CheckStatus();
        _device.Tx.WakeIfReturned(transport);
        return handled;
    }

    /// <summary>
    /// Returns a held zero-copy rx buffer (any thread). Never throws: it runs from Dispose. <paramref name="retired"/>
    /// (a buffer the application held) is replaced in its slot first, so the object it may still reference is never
    /// armed for another message.
    /// </summary>
    internal void ReleaseHeld(int id, RpmsgRxBuffer? retired = null)
    {
        var held = _held;
        if (retired is not null && (uint)id < (uint)held.Length && ReferenceEquals(Volatile.Read(ref held[id]), retired))
            Volatile.Write(ref held[id], new RpmsgRxBuffer(this, id)); // before the peer can have the buffer again
        if (!_gate.TryEnter(out var transport))
            return;
        try
        {
            transport.ReturnRx(id);
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            _gate.Absorb(e, "held rx buffer not returned");
        }
        finally
        {
            _gate.Exit();
        }
    }
}
