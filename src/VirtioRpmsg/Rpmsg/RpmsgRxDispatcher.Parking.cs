using System.Diagnostics;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

// Parking: what arrives while a callback on the dispatching thread waits for a tx buffer (the class remarks say why).
internal sealed partial class RpmsgRxDispatcher
{
    /// <summary>Dispatcher blocked inside a callback: copy what arrived into the backlog and give the buffers back.</summary>
    internal void ParkPending(IRpmsgTransport transport)
    {
        Parking?.Invoke();
        _parked.EnsureAllocated();
        ParkingRefused = GrowthDeferred = false;
        bool mayGrow = Stopwatch.GetElapsedTime(_callbackWaitSince) >= _growAfter;
        // Parking runs on kicks (the dispatcher signals the waiting sender at each): its takes follow the event, also
        // inside a spinning reader's pass, or a peer refilling the ring would draw none. There the pass's own takes
        // before this callback did not follow, so the event may sit behind them: re-armed here first, or a park that
        // finds the ring empty would move nothing (the dispatcher would turn them on within HelperRecheck anyway).
        bool follows = transport.RxFollowsEvent;
        transport.RxFollowsEvent = true;
        try
        {
            if (!follows && _device.State == RpmsgDeviceState.Running)
                transport.EnableRxNotifications();
            while (_device.State == RpmsgDeviceState.Running && HasParkingRoom(transport, mayGrow)
                && ReceiveNext(transport, out var rx))
                HandleReceived(transport, rx, _parked);
        }
        finally
        {
            transport.RxFollowsEvent = follows;
        }
        Flush(transport);
    }

    // How long a callback's send waits before the backlog may grow past one slot per buffer. A peer that is returning
    // our buffers gets the callback going again within this; meanwhile the fixed slots flow-control a peer that only
    // floods (it waits for its buffers), and only a wait that lasts (a peer blocked on us in turn, or a callback that
    // stays blocked while the peer floods) pays for more memory, up to the budget. A send with less time than twice
    // this grows after half its time instead: waiting longer would leave it only its timeout.
    internal TimeSpan GrowAfter { get; set; } = TimeSpan.FromMilliseconds(5); // tests lengthen it
    private TimeSpan _growAfter; // the waiting send's: GrowAfter, or half its time left if that is sooner

    /// <summary>How long the send that began waiting last waits before the backlog may grow (dispatching thread only; tests).</summary>
    internal TimeSpan GrowthDelay => _growAfter;

    /// <summary>Test hook: raised on an application thread as an rx buffer's open (or copy) has passed the zero-copy fence, before its lease.</summary>
    internal Action? ZeroCopyEntered { get; set; }

    /// <summary>Test hook: raised on the dispatching thread each time a blocked callback sender parks what arrived.</summary>
    internal Action? Parking { get; set; }
    private long _callbackWaitSince; // dispatching thread only

    /// <summary>A sender inside a callback on this thread began to wait for a tx buffer until <paramref name="deadline"/>.</summary>
    internal void CallbackSendBeganWaiting(Deadline deadline)
    {
        _callbackWaitSince = Stopwatch.GetTimestamp();
        var half = deadline.IsInfinite ? Timeout.InfiniteTimeSpan : deadline.Remaining / 2;
        _growAfter = half != Timeout.InfiniteTimeSpan && half < GrowAfter ? half : GrowAfter;
        // An earlier send's: a timeout before this one parked anything must not report its refusal.
        ParkingRefused = GrowthDeferred = false;
    }

    /// <summary>The last <see cref="ParkPending"/> left a message in the ring: the backlog was full and the budget refused to grow it (dispatching thread only).</summary>
    internal bool ParkingRefused { get; private set; }

    /// <summary>The last <see cref="ParkPending"/> left a message in the ring: the backlog was full and may not grow yet (dispatching thread only).</summary>
    internal bool GrowthDeferred { get; private set; }

    /// <summary>After a deferred growth, how long the sender waits at most before it may grow (at least 1 ms); otherwise int.MaxValue.</summary>
    internal int MillisecondsUntilGrowth
    {
        get
        {
            if (!GrowthDeferred)
                return int.MaxValue;
            var left = _growAfter - Stopwatch.GetElapsedTime(_callbackWaitSince);
            return Math.Max(1, (int)Math.Ceiling(left.TotalMilliseconds));
        }
    }

    /// <summary>Messages parked now (dispatching thread only).</summary>
    internal int ParkedCount => _parked.Count;

    // Full: grows only for a message waiting now, within the device's queue budget (MaxQueuedBytes). Past that the
    // peer waits for its buffers, and two such dispatchers can still wait on each other until the send timeout.
    private bool HasParkingRoom(IRpmsgTransport transport, bool mayGrow)
    {
        if (!_parked.IsFull)
            return true;
        if (!transport.RxPending)
            return false;
        if (!mayGrow)
        {
            GrowthDeferred = true;
            return false;
        }
        if (_parked.TryGrow())
            return true;
        ParkingRefused = true;
        return false;
    }
}
