using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The receive side of a device: takes messages off the rx ring, validates each header once into a
/// private copy, and delivers to endpoints (copy, queue or zero-copy). Runs on whoever owns the rx
/// ring (<see cref="RpmsgRxRingOwner"/>): the dispatcher thread or a <see cref="Poll"/> caller.
/// <para>
/// Parking: a callback that blocks sending (no free tx buffer) stops this side from returning the
/// peer's buffers; if the peer in turn blocks sending to us, both wait forever. While the dispatcher
/// waits inside a callback it therefore copies newly received messages into a private backlog
/// (<see cref="RpmsgParkedBacklog"/>) and gives their buffers back at once. The backlog is delivered,
/// in order, before anything else afterwards.
/// </para>
/// </summary>
internal sealed class RpmsgRxDispatcher
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
    private readonly RpmsgParkedBacklog _parked;
    private readonly byte[] _scratch;
    private RpmsgRxBuffer[] _held = [];
    private int _dispatcherDeferred;
    // Buffers released to the peer and not yet published (the rx ring's owner only). A batch publishes once
    // (one store to the index line the peer polls, one fence and notification check), at most this many late.
    private const int FlushEvery = 16;
    private int _unflushed;

    internal RpmsgRxDispatcher(RpmsgDevice device, RpmsgEndpointTable endpoints, RpmsgDeviceCounters counters, RpmsgDataGate gate, int bufferSize, int bufferCount)
    {
        _device = device;
        _endpoints = endpoints;
        _counters = counters;
        _gate = gate;
        _scratch = new byte[bufferSize];
        _parked = new RpmsgParkedBacklog(bufferCount, bufferSize - RpmsgHeader.Size);
    }

    /// <summary>Who consumes the rx ring, and whether application threads are polling it (spinning readers).</summary>
    internal RpmsgRxRingOwner Owner => _owner;

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
        if (IsDispatcherContext)
            throw new InvalidOperationException($"rpmsg device '{_device.Name}': Poll from inside a receive callback would deliver messages re-entrantly");
        int handled = 0;
        while (_owner.TryEnter())
        {
            // Whoever holds the ring looks at it after this: a request the dispatcher made before is served
            // by this pass. Cleared only by an owner, so a request made while another thread owns the ring
            // stays up for that owner's exit check (a Poll that sees it but cannot enter leaves it there).
            Interlocked.Exchange(ref _dispatcherDeferred, 0);
            try
            {
                handled += PollOwned();
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

    private int PollOwned()
    {
        var outer = t_current;
        t_current = this;
        bool entered = false;
        try
        {
            bool callerPolls = !RpmsgDispatcherThread.HasThread(_device.Options.WaitStrategy);
            if (callerPolls)
                DrainDoorbell();
            if (_device.State == RpmsgDeviceState.Starting && _device.Role == RpmsgRole.Remote && !_device.TryCompleteRemoteLinkUp())
                return 0;
            if (!(entered = _gate.TryEnter(out _)))
            {
                _device.ThrowIfUnavailable();
                return 0;
            }
            // Nobody waits on the doorbell in CallerPoll: keep the peer's kicks off (the disable is
            // renewed each time, an EVENT_IDX "far" event moves with the ring) and read whatever
            // kicks came anyway, so a peer whose kick blocks never fills the doorbell.
            if (callerPolls)
                _device.Transport!.DisableRxNotifications();
            return ProcessPending(int.MaxValue);
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
        }
    }

    private void DrainDoorbell()
    {
        try
        {
            _device.Doorbell.Drain();
        }
        catch (ObjectDisposedException)
        {
            // Closed by a teardown racing this Poll: the state check below reports it.
        }
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
            handled = ProcessPending(budget);
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

    private int ProcessPending(int budget)
    {
        var transport = _device.Transport!;
        int handled = 0;
        while (handled < budget && _device.State == RpmsgDeviceState.Running)
        {
            // Parked messages are older than anything still in the ring: they go first.
            if (_parked.Count > 0)
            {
                DeliverParked();
                continue;
            }
            if (!transport.TryReceive(out var rx))
                break;
            HandleReceived(transport, rx);
            handled++;
        }
        // Before anyone sleeps on this ring, the peer sees every buffer of the batch (and is kicked if it asked).
        Flush(transport);
        // A ring fault needs no check here: it was thrown above, and the caller breaks the device (see RpmsgDataGate).
        _device.CheckStatus();
        _device.Tx.WakeIfReturned(transport);
        return handled;
    }

    private void HandleReceived(IRpmsgTransport transport, in RpmsgBufferRef rx, bool park = false)
    {
        _counters.CountRx();
        if (_held[rx.Id].IsLive)
        {
            // The peer handed us a buffer the application still holds: it reused a descriptor it had
            // not got back. Checked before any path (copy, park, drop) could give it back under the holder.
            _device.Break(new Fault(FaultLayer.Rpmsg, FaultRule.HeldBufferRedelivered, "rx buffer", (ulong)rx.Id,
                $"rx buffer {rx.Id} was delivered again while the application still holds it"));
            return;
        }
        RpmsgHeader header;
        RpmsgEndpoint? endpoint;
        int length;
        Span<byte> copy = default;
        using (var lease = rx.Region.Acquire())
        {
            if (rx.Length < RpmsgHeader.Size)
            {
                lease.Dispose();
                DropReceived(transport, rx.Id, $"used length {rx.Length} is shorter than the {RpmsgHeader.Size}-byte header");
                return;
            }
            // One read into a private copy; only the copy is used from here on.
            Span<byte> raw = stackalloc byte[RpmsgHeader.Size];
            lease.ReadBytes(rx.Offset, raw);
            header = RpmsgHeader.Read(raw);
            length = header.Length;
            if (length > rx.Length - RpmsgHeader.Size)
            {
                lease.Dispose();
                DropReceived(transport, rx.Id, $"header len {length} exceeds the {rx.Length - RpmsgHeader.Size} payload bytes the buffer holds (src 0x{header.Source:X}, dst 0x{header.Destination:X})");
                return;
            }
            if (header.Source == RpmsgAddress.Any || (header.Source == RpmsgAddress.NameService && header.Destination != RpmsgAddress.NameService))
            {
                // Nobody can answer ADDR_ANY, and a message "from" the name service to an ordinary
                // endpoint is a spoof: a reply would land on the peer's name service as an announcement.
                lease.Dispose();
                DropReceived(transport, rx.Id, $"src 0x{header.Source:X} is reserved (dst 0x{header.Destination:X}, {length} bytes)");
                return;
            }
            _endpoints.TryGet(header.Destination, out endpoint);
            if (endpoint is not null && (park || !endpoint.IsZeroCopy))
            {
                copy = park ? _parked.Reserve(header.Source, header.Destination, length) : _scratch.AsSpan(0, length);
                lease.ReadBytes(rx.Offset + RpmsgHeader.Size, copy);
            }
        }
        if (endpoint is null)
        {
            Release(transport, rx.Id);
            _counters.CountDropped($"no endpoint at dst 0x{header.Destination:X} (src 0x{header.Source:X}, {length} bytes)");
            return;
        }
        if (endpoint.IsZeroCopy && !park)
        {
            var held = _held[rx.Id];
            held.Arm(rx.Region, rx.Offset + RpmsgHeader.Size, length, header.Source, header.Destination);
            DeliverZeroCopy(endpoint, held);
            return;
        }
        if (park)
            _parked.Commit();
        // Give the buffer back before the callback (the payload is copied): the callback may block sending, and
        // the peer may need this buffer to make progress (a remote blocked on rx buffers would never return ours).
        // Published with the batch: a callback that blocks for a tx buffer publishes it first (ParkPending).
        Release(transport, rx.Id);
        if (!park)
            Deliver(endpoint, header.Source, header.Destination, copy);
    }

    private void Release(IRpmsgTransport transport, int id)
    {
        transport.ReleaseRx(id);
        if (++_unflushed >= FlushEvery)
            Flush(transport);
    }

    private void Flush(IRpmsgTransport transport)
    {
        if (_unflushed == 0)
            return;
        _unflushed = 0;
        transport.FlushRx();
    }

    private void Deliver(RpmsgEndpoint endpoint, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        try
        {
            if (!endpoint.Deliver(source, payload))
                _counters.CountDropped($"endpoint 0x{destination:X} destroyed while a message was in flight");
        }
        catch (Exception e)
        {
            _counters.ReceiveCallbackFailed(endpoint.Address, e);
        }
    }

    private void DeliverZeroCopy(RpmsgEndpoint endpoint, RpmsgRxBuffer buffer)
    {
        try
        {
            if (!endpoint.DeliverZeroCopy(buffer))
                _counters.CountDropped($"endpoint 0x{buffer.Destination:X} destroyed while a message was in flight");
        }
        catch (Exception e)
        {
            _counters.ReceiveCallbackFailed(endpoint.Address, e);
        }
        finally
        {
            buffer.HandlerReturned();
        }
    }

    /// <summary>Dispatcher blocked inside a callback: copy what arrived into the backlog and give the buffers back.</summary>
    internal void ParkPending(IRpmsgTransport transport)
    {
        _parked.EnsureAllocated();
        while (!_parked.IsFull && _device.State == RpmsgDeviceState.Running && transport.TryReceive(out var rx))
            HandleReceived(transport, rx, park: true);
        Flush(transport);
    }

    private void DeliverParked()
    {
        while (_device.State == RpmsgDeviceState.Running && _parked.TryPeek(out uint source, out uint destination, out var payload))
        {
            if (!_endpoints.TryGet(destination, out var endpoint))
            {
                _counters.CountDropped($"no endpoint at dst 0x{destination:X} (src 0x{source:X}, {payload.Length} bytes)");
            }
            else if (endpoint.IsZeroCopy)
            {
                var copy = new RpmsgRxBuffer(this, -1);
                copy.ArmPrivate(payload.ToArray(), payload.Length, source, destination);
                DeliverZeroCopy(endpoint, copy);
            }
            else
            {
                Deliver(endpoint, source, destination, payload);
            }
            _parked.Pop();
        }
    }

    private void DropReceived(IRpmsgTransport transport, int id, string why)
    {
        Release(transport, id);
        _counters.CountError("bad message: " + why);
    }

    /// <summary>Returns a held zero-copy rx buffer (any thread). Never throws: it runs from Dispose.</summary>
    internal void ReleaseHeld(int id)
    {
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
