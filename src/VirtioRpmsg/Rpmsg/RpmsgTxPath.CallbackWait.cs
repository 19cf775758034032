using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A sender inside a receive callback waiting for a tx buffer: the dispatcher is that sender, so it keeps the peer's
/// buffers flowing itself (parking what arrives) and, unless a dispatcher thread watches the doorbell for it, waits
/// on the doorbell directly.
/// </summary>
internal sealed partial class RpmsgTxPath
{
    /// <summary>How soon a sender first re-tries when the peer returns buffers without a kick: RPMsg-Lite's RL_MS_PER_INTERVAL (1 ms).</summary>
    internal const int UnsignalledReturnRecheckMilliseconds = RpmsgRecheckBackoff.FirstMilliseconds;

    // A peer that returns our tx buffers without a kick (IRpmsgTransport.TxReturnsUnsignalled: RPMsg-Lite, either role)
    // wakes neither a sender nor the dispatcher that would signal it when they come back; so a waiting sender looks again
    // on its own, first as often as RPMsg-Lite's own sides do, then less often while nothing comes back
    // (RpmsgRecheckBackoff: a sender stuck on a dead peer looked every 1 ms for ever). Waiting for IdleRecheckInterval
    // instead stalled every burst that ran out of buffers for up to 0.5 s (docs/interop.md, "Verified against the real RPMsg-Lite").
    private bool ReturnsUnsignalled => _device.Transport?.TxReturnsUnsignalled == true;

    private int RecheckMilliseconds(in RpmsgRecheckBackoff backoff)
    {
        int idle = (int)_device.Options.IdleRecheckInterval.TotalMilliseconds;
        return ReturnsUnsignalled ? backoff.Next(idle) : idle;
    }

    /// <summary>Stop: the kept link with a callback sender's token leaves that token.</summary>
    internal void ReleaseCallerTokens() => _linkedStop.Close();

    // True when woken before the slice ran out (a kick, a signal, a message to park): the next re-check starts at 1 ms again.
    private bool WaitInCallback(long signal, int slice, CancellationToken cancellationToken)
    {
        var rx = _device.Rx;
        // Inside a Poll while the dispatcher thread runs, the doorbell is the dispatcher's (one waiter only), and it
        // signals us on every ring while the Poll owns the rx ring. Unless this thread is a reader that holds the
        // doorbell (RpmsgDoorbellHandOver).
        bool onDoorbell = rx.IsDispatcherThread || !_device.HasDispatcherThread || rx.HandOver.IsHeldByCurrentThread;
        var transport = _device.Transport;
        if (transport is not null && !ParkThenArm(transport, onDoorbell))
            return true; // a message came in before the kicks were on: park it first (the caller re-tries, then comes back)
        // Full before it may grow: nothing to park until then, so no sooner than then (or our buffers back).
        slice = Math.Min(slice, rx.MillisecondsUntilGrowth);
        if (!onDoorbell)
            return _signal.Wait(signal, slice, cancellationToken);
        // Stop cancels the wait through the device's own token.
        var token = _linkedStop.Rent(cancellationToken, _device.StopToken, out var linked);
        try
        {
            return _device.Doorbell.Wait(TimeSpan.FromMilliseconds(slice), token) || _signal.Generation != signal;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true; // stopped: the caller's next step reports RpmsgDeviceUnavailableException
        }
        catch (DoorbellClosedException e)
        {
            // The peer went away (its socket, or the connection a kept eventfd pair came over, closed): what the
            // dispatcher thread does when its own wait finds that; the caller's next step reports the break.
            _device.Break(RpmsgDevice.DoorbellClosedFault(e));
            return true;
        }
        finally
        {
            _linkedStop.Return(linked);
            if (transport is not null)
                DisarmRx(transport);
        }
    }

    // Parks what arrived; then, waiting on the doorbell, asks the peer to kick for its next message as well as for our
    // returned buffers: parking it is what lets the peer go on, and the dispatcher takes batches with kicks off, so
    // without this a peer that sends (and returns nothing) was seen only at each IdleRecheckInterval. False (kicks
    // off again) when a message is pending after the enable and there was room to park it; a full backlog that may
    // not grow (yet, or at all) parks nothing more, so the sender waits (re-trying at once spun for the 5 ms).
    private bool ParkThenArm(IRpmsgTransport transport, bool onDoorbell)
    {
        var rx = _device.Rx;
        try
        {
            // Another thread holds the ring and consumes it: nothing to park, and a message pending there is not ours to
            // wait for (re-trying at once would spin for as long as that thread's pass lasts).
            if (!ParkUnderTheRing(transport))
                return true;
            if (!onDoorbell || transport.EnableRxNotifications() || rx.ParkingRefused || rx.GrowthDeferred)
                return true;
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e);
        }
        DisarmRx(transport); // the caller's re-try may succeed: the callback then goes on with kicks off, as it ran
        return false;
    }

    // Parking consumes the rx ring, which has one consumer at a time: a callback holds it (its dispatch pass does), but
    // the dispatcher thread's own sends outside a pass (a remote's announcements at link-up) take it for the parking;
    // when a Poll holds it, that Poll consumes the ring and there is nothing to park here (false).
    private bool ParkUnderTheRing(IRpmsgTransport transport)
    {
        var rx = _device.Rx;
        if (rx.Owner.IsHeldByCurrentThread)
        {
            rx.ParkPending(transport);
            return true;
        }
        if (!rx.Owner.TryEnter())
            return false;
        try
        {
            rx.ParkPending(transport);
        }
        finally
        {
            rx.Owner.Exit();
        }
        return true;
    }

    // Off again once awake: the dispatcher loop (or the next Poll, under CallerPoll) turns them on only before it
    // sleeps, and a peer whose kick blocks must not fill the doorbell meanwhile.
    private void DisarmRx(IRpmsgTransport transport)
    {
        if (!_gate.TryEnter(out _))
            return;
        try
        {
            transport.DisableRxNotifications();
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            _gate.Absorb(e, "rx notifications not disabled after a callback sender's wait");
        }
        finally
        {
            _gate.Exit();
        }
    }

    // A callback sender whose dispatcher could park nothing more: the peer may be waiting for buffers we hold, as we
    // wait for its.
    private string ParkingNote() =>
        _device.Rx.IsDispatcherContext && _device.Rx.ParkingRefused
            ? $"; the receive side could not park more of the peer's messages ({_device.Rx.ParkedCount} parked, MaxQueuedBytes {_device.Options.MaxQueuedBytes} reached), so the peer may be waiting for its buffers while this callback waits for ours"
            : "";
}
