using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The delivery half of the receive side: batches taken from the ring (their buffers back with the peer in one
/// publication before any callback runs), parked and batched messages delivered in order, zero-copy in place.
/// </summary>
internal sealed partial class RpmsgRxDispatcher
{
    /// <summary>
    /// Copies up to a batch of messages out of the ring and gives all their buffers back with one publication
    /// (one index store, one fence and notification check), so each buffer is back with the peer, and the peer
    /// kicked if it asked, before any of their callbacks runs, as when every buffer went back alone before its
    /// own callback. A message for a zero-copy endpoint ends the batch (delivered in place, after the others).
    /// </summary>
    // The last TakeBatch ended on a look that found the ring empty (not on a full batch or a zero-copy delivery).
    private bool _ringLookedEmpty;

    private int TakeBatch(IRpmsgTransport transport, int max)
    {
        int taken = 0;
        _ringLookedEmpty = false;
        try
        {
            while (taken < max && !_batch.IsFull && _device.State == RpmsgDeviceState.Running)
            {
                if (!ReceiveNext(transport, out var rx))
                {
                    _ringLookedEmpty = true;
                    break;
                }
                taken++;
                if (!HandleReceived(transport, rx, _batch))
                    break;
            }
        }
        catch (Exception e) when (_batch.Count > 0 && RpmsgDataGate.Handles(e))
        {
            // The ring broke on an element after good ones this batch already took (and gave back, unpublished): those
            // messages are delivered, as one at a time they would have been, and then the fault breaks the device.
            DeliverBacklog(_batch);
            throw;
        }
        Flush(transport);
        return taken;
    }

    // Into _batch (zero-copy endpoints delivered in place: false) or _parked (every message copied).
    private bool HandleReceived(IRpmsgTransport transport, in RpmsgBufferRef rx, RpmsgParkedBacklog into)
    {
        bool park = ReferenceEquals(into, _parked);
        // RxMessages counts a message once it is handled (delivered, parked or dropped), so a reader of the
        // counter sees its effect: a batched message is counted when DeliverBacklog delivers it.
        if (_held[rx.Id].IsPinned)
        {
            _counters.CountRx();
            // The peer handed us a buffer the application still holds (or still reads through a view of it, disposed
            // but not given back yet): it reused a descriptor it had not got back. Checked before any path (copy,
            // park, drop, or arming the slot's object again) could give it back under the holder.
            BreakRedelivered(rx.Id);
            return true;
        }
        RpmsgHeader header;
        RpmsgEndpoint? endpoint;
        int length;
        using (var lease = rx.Region.Acquire())
        {
            if (rx.Length < RpmsgHeader.Size)
            {
                lease.Dispose();
                DropShort(transport, rx.Id, rx.Length);
                return true;
            }
            // One read into a private copy; only the copy is used from here on.
            Span<byte> raw = stackalloc byte[RpmsgHeader.Size];
            lease.ReadBytes(rx.Offset, raw);
            header = RpmsgHeader.Read(raw);
            length = header.Length;
            if (length > rx.Length - RpmsgHeader.Size)
            {
                lease.Dispose();
                DropOverlong(transport, rx.Id, header, rx.Length - RpmsgHeader.Size);
                return true;
            }
            if (header.Source == RpmsgAddress.Any || (header.Source == RpmsgAddress.NameService && header.Destination != RpmsgAddress.NameService))
            {
                // Nobody can answer ADDR_ANY, and a message "from" the name service to an ordinary
                // endpoint is a spoof: a reply would land on the peer's name service as an announcement.
                lease.Dispose();
                DropReservedSource(transport, rx.Id, header);
                return true;
            }
            _endpoints.TryGet(header.Destination, out endpoint);
            if (endpoint is not null && (park || !endpoint.IsZeroCopy))
                lease.ReadBytes(rx.Offset + RpmsgHeader.Size, into.Reserve(header.Source, header.Destination, length));
        }
        if (endpoint is null)
        {
            _counters.CountRx();
            Release(transport, rx.Id);
            CountNoEndpoint(header.Source, header.Destination, length);
            return true;
        }
        if (endpoint.IsZeroCopy && !park)
        {
            // In order: the batch taken before it is published and delivered first.
            Flush(transport);
            DeliverBacklog(_batch);
            if (_device.State != RpmsgDeviceState.Running)
            {
                // A callback of that batch stopped the device (or it broke): nothing more is delivered, and the
                // buffer stays with the ring the next link-up resets.
                _counters.CountRx();
                CountStoppedBeforeZeroCopy(header.Destination);
                return false;
            }
            var held = _held[rx.Id];
            held.Arm(rx.Region, rx.Offset + RpmsgHeader.Size, length, header.Source, header.Destination);
            DeliverZeroCopy(endpoint, held);
            _counters.CountRx();
            return false;
        }
        // The payload is copied: the buffer goes back (published with the batch) before the callback runs, which
        // may block sending, and the peer may need this buffer to make progress (a remote blocked on rx buffers
        // would never return ours).
        into.Commit();
        if (park)
            _counters.CountRx();
        Release(transport, rx.Id);
        return true;
    }

    // The next take gives the buffer back in its own gate entry (ReceiveNext), or Flush does. Every path takes or
    // flushes before it releases again; the Flush is a guard (it does not run today) so that no buffer is ever lost.
    private void Release(IRpmsgTransport transport, int id)
    {
        if (_release != -1)
            Flush(transport);
        _release = id;
        if (++_unflushed >= FlushEvery)
            Flush(transport);
    }

    // A take that finds nothing publishes everything given back (one gate entry for the batch's last look and its
    // flush).
    private bool ReceiveNext(IRpmsgTransport transport, out RpmsgBufferRef rx)
    {
        int release = _release;
        _release = -1;
        if (transport.TryReceive(release, out rx))
            return true;
        _unflushed = 0;
        return false;
    }

    private void Flush(IRpmsgTransport transport)
    {
        if (_unflushed == 0)
            return;
        _unflushed = 0;
        int release = _release;
        _release = -1;
        if (release != -1)
            transport.ReturnRx(release);
        else
            transport.FlushRx();
    }

    // The queue the dispatcher thread last delivered into (written and read by that thread only): see ReaderBehind.
    private RpmsgEndpointQueue? _fedQueue;

    /// <summary>Set by the dispatcher thread when it will ask <see cref="ReaderBehind"/>: every other delivery skips the bookkeeping.</summary>
    internal bool TrackFedQueue { get; set; }

    /// <summary>
    /// On the dispatcher thread, before it spins its hybrid budget: whether the endpoint queue it last delivered into
    /// still holds a message (or closed), i.e. the application thread that reads it has not taken it yet. That queue is
    /// forgotten once it was read, not at the first look: every pass that finds it still unread skips the spin (a pass
    /// that went round again, e.g. after a re-check of the notifications, would otherwise spin ahead of the reader). A
    /// reader polls the ring itself when it waits (<see cref="RpmsgReaderSpin"/>); the dispatcher's spin only kept the
    /// core from it, and from the peer, when they shared one (RpmsgDispatcherThread.RunLoop).
    /// </summary>
    internal bool ReaderBehind()
    {
        var fed = _fedQueue;
        if (fed is null)
            return false;
        if (fed.Ready())
            return true;
        _fedQueue = null;
        return false;
    }

    private void Deliver(RpmsgEndpoint endpoint, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        // A callback (no queue) on the async doorbell holder's thread may wait for a receive: none waits on the callback.
        var holder = endpoint.QueueCapacity == 0 ? RpmsgDoorbellAsyncHolder.BeforeCallback() : null;
        try
        {
            if (!endpoint.Deliver(source, payload))
                CountDestroyedInFlight(destination);
            else if (TrackFedQueue && t_isThread && endpoint.ReceiveQueue is { } queue)
                _fedQueue = queue;
        }
        catch (Exception e)
        {
            _counters.ReceiveCallbackFailed(endpoint.Address, e);
        }
        finally
        {
            RpmsgDoorbellAsyncHolder.AfterCallback(holder);
        }
    }

    private void DeliverZeroCopy(RpmsgEndpoint endpoint, RpmsgRxBuffer buffer)
    {
        var holder = RpmsgDoorbellAsyncHolder.BeforeCallback(); // as in Deliver
        try
        {
            if (!endpoint.DeliverZeroCopy(buffer))
                CountDestroyedInFlight(buffer.Destination);
        }
        catch (Exception e)
        {
            _counters.ReceiveCallbackFailed(endpoint.Address, e);
        }
        finally
        {
            RpmsgDoorbellAsyncHolder.AfterCallback(holder);
            buffer.HandlerReturned();
        }
    }

    private void DeliverBacklog(RpmsgParkedBacklog backlog)
    {
        var none = default(RpmsgDirectReceive);
        DeliverBacklog(backlog, ref none);
    }

    private void DeliverBacklog(RpmsgParkedBacklog backlog, ref RpmsgDirectReceive direct)
    {
        bool batch = ReferenceEquals(backlog, _batch); // parked messages were counted when parked
        while (_device.State == RpmsgDeviceState.Running && backlog.TryPeek(out uint source, out uint destination, out var payload))
        {
            if (!_endpoints.TryGet(destination, out var endpoint))
            {
                CountNoEndpoint(source, destination, payload.Length);
            }
            else if (endpoint.IsZeroCopy)
            {
                var copy = new RpmsgRxBuffer(this, -1);
                copy.ArmPrivate(payload.ToArray(), payload.Length, source, destination);
                DeliverZeroCopy(endpoint, copy);
            }
            else if (batch && direct.Queue is not null && endpoint.TryDeliverDirect(source, payload, ref direct))
            {
                // Copied into the polling reader's destination (RpmsgDirectReceive): nothing queued, nothing charged.
            }
            else
            {
                if (endpoint.QueueCapacity > 0)
                    backlog.HandOverCharge(RpmsgQueueBudget.Cost(payload.Length));
                Deliver(endpoint, source, destination, payload);
            }
            backlog.Pop();
            if (batch)
                _counters.CountRx();
        }
    }
}
