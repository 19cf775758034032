using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

// The data path: send family, receive dispatch, the dispatcher thread and its wait strategies.
public sealed partial class RpmsgDevice
{
    // ---- send ------------------------------------------------------------------------------------

    /// <summary>Non-blocking send with explicit addresses: false at once when no tx buffer is free.</summary>
    internal bool TrySend(uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
            throw new RpmsgPayloadTooLargeException(payload.Length, MaxPayload);
        var transport = EnterDataOperation();
        try
        {
            if (!TryAcquireTx(transport, out var buffer))
                return false;
            try
            {
                using var lease = buffer.Region.Acquire(); // RegionClosedException when unmapped under us
                var span = lease.GetSpan(buffer.Offset, RpmsgHeader.Size + payload.Length);
                new RpmsgHeader(source, destination, 0, (ushort)payload.Length, 0).Write(span);
                payload.CopyTo(span[RpmsgHeader.Size..]);
            }
            catch (RegionClosedException e)
            {
                transport.CancelTx(buffer.Id);
                throw Unmapped(e);
            }
            try
            {
                transport.SubmitTx(buffer.Id, RpmsgHeader.Size + payload.Length);
            }
            catch (RegionClosedException e)
            {
                throw Unmapped(e);
            }
            Interlocked.Increment(ref _txMessages);
            return true;
        }
        finally
        {
            ExitDataOperation();
        }
    }

    // ---- data operations vs Stop ---------------------------------------------------------------
    //
    // Every operation that writes the rings from an application thread counts itself in, then checks
    // the state (the same increment-then-check pairing as endpoint callbacks). Stop changes the state,
    // then waits for the count to drain, so after Stop returns nothing writes shared memory.

    private int _dataOperations;

    private IRpmsgTransport EnterDataOperation()
    {
        Interlocked.Increment(ref _dataOperations);
        try
        {
            return RunningTransport();
        }
        catch
        {
            ExitDataOperation();
            throw;
        }
    }

    private void ExitDataOperation() => Interlocked.Decrement(ref _dataOperations);

    private void WaitForDataOperations()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _dataOperations) > 0)
            spin.SpinOnce(sleep1Threshold: 20);
    }

    /// <summary>Blocking send: waits for a tx buffer until <paramref name="deadline"/> (TickCount64) or cancellation.</summary>
    internal void Send(uint source, uint destination, ReadOnlySpan<byte> payload, long deadline, CancellationToken cancellationToken)
    {
        if (TrySend(source, destination, payload))
            return;
        MappingLease.ThrowIfHeld("RpmsgDevice.Send");
        BeginTxWait();
        try
        {
            while (true)
            {
                var signal = Volatile.Read(ref _txSignal).Task;
                if (TrySend(source, destination, payload))
                    return;
                WaitForTx(signal, deadline, cancellationToken);
            }
        }
        finally
        {
            EndTxWait();
        }
    }

    /// <summary>Async send: like <see cref="Send(uint, uint, ReadOnlySpan{byte}, long, CancellationToken)"/> without blocking a thread.</summary>
    internal ValueTask SendAsync(uint source, uint destination, ReadOnlyMemory<byte> payload, long deadline, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return TrySend(source, destination, payload.Span) ? ValueTask.CompletedTask : SendAsyncSlow(source, destination, payload, deadline, cancellationToken);
    }

    private async ValueTask SendAsyncSlow(uint source, uint destination, ReadOnlyMemory<byte> payload, long deadline, CancellationToken cancellationToken)
    {
        BeginTxWait();
        try
        {
            while (true)
            {
                var signal = Volatile.Read(ref _txSignal).Task;
                if (TrySend(source, destination, payload.Span))
                    return;
                int wait = RemainingMilliseconds(deadline);
                if (wait == 0)
                    throw TxTimeout();
                try
                {
                    await signal.WaitAsync(TimeSpan.FromMilliseconds(wait == Timeout.Infinite ? -1 : wait), cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Loop: one more try, then the specific timeout.
                }
            }
        }
        finally
        {
            EndTxWait();
        }
    }

    internal bool TryAcquireTx(out RpmsgBufferRef buffer)
    {
        var transport = EnterDataOperation();
        try
        {
            return TryAcquireTx(transport, out buffer);
        }
        finally
        {
            ExitDataOperation();
        }
    }

    private bool TryAcquireTx(IRpmsgTransport transport, out RpmsgBufferRef buffer)
    {
        try
        {
            return transport.TryAcquireTx(out buffer);
        }
        catch (RegionClosedException e)
        {
            // The region was unmapped (or remapped) while this send was in flight: the remote is
            // gone, which callers learn as the documented "unavailable", never as a memory error.
            throw Unmapped(e);
        }
        catch (FaultException e)
        {
            // A peer that breaks the protocol (or disagrees on the configuration) breaks the device for
            // everyone; the caller still gets the specific error.
            Break(e.Fault);
            throw;
        }
    }

    internal RpmsgBufferRef AcquireTx(long deadline, CancellationToken cancellationToken)
    {
        if (TryAcquireTx(out var buffer))
            return buffer;
        MappingLease.ThrowIfHeld("RpmsgEndpoint.GetTxBuffer");
        BeginTxWait();
        try
        {
            while (true)
            {
                var signal = Volatile.Read(ref _txSignal).Task;
                if (TryAcquireTx(out buffer))
                    return buffer;
                WaitForTx(signal, deadline, cancellationToken);
            }
        }
        finally
        {
            EndTxWait();
        }
    }

    /// <summary>Zero-copy send of a filled tx buffer. On a device that is no longer running, the buffer is dropped and the send throws.</summary>
    internal void SubmitTx(int id, int length)
    {
        var transport = EnterDataOperation();
        try
        {
            transport.SubmitTx(id, length);
            Interlocked.Increment(ref _txMessages);
        }
        catch (RegionClosedException e)
        {
            throw Unmapped(e);
        }
        finally
        {
            ExitDataOperation();
        }
    }

    /// <summary>The exception a caller sees when shared memory went away under an operation (stop raced with it).</summary>
    internal RpmsgDeviceUnavailableException Unmapped(RegionClosedException e) =>
        new(Name, _state, "shared memory unmapped: " + e.Message);

    internal void CancelTx(int id)
    {
        Interlocked.Increment(ref _dataOperations);
        try
        {
            if (_state != RpmsgDeviceState.Running || Volatile.Read(ref _transport) is not { } transport)
                return;
            transport.CancelTx(id);
            // A waiting sender can use it now.
            if (Volatile.Read(ref _txWaiters) > 0)
                SignalTx();
        }
        finally
        {
            ExitDataOperation();
        }
    }

    private IRpmsgTransport RunningTransport()
    {
        // State first: GoLive publishes the transport before the Running state.
        if (_state != RpmsgDeviceState.Running)
            ThrowIfUnavailable();
        var transport = Volatile.Read(ref _transport) ?? throw new RpmsgDeviceUnavailableException(Name, _state, "no transport");
        if (transport.Fault is { } fault)
        {
            Break(fault);
            ThrowIfUnavailable();
        }
        return transport;
    }

    private void BeginTxWait()
    {
        Interlocked.Increment(ref _txBufferWaits);
        lock (_armLock)
        {
            // Arm "tx buffer returned" notifications only while someone waits (Linux does the same).
            if (Interlocked.Increment(ref _txWaiters) == 1)
            {
                try
                {
                    Volatile.Read(ref _transport)?.ArmTxNotifications(true);
                }
                catch (RegionClosedException e)
                {
                    Interlocked.Decrement(ref _txWaiters);
                    throw Unmapped(e);
                }
            }
        }
    }

    private void EndTxWait()
    {
        lock (_armLock)
        {
            if (Interlocked.Decrement(ref _txWaiters) == 0 && _state == RpmsgDeviceState.Running)
            {
                try
                {
                    Volatile.Read(ref _transport)?.ArmTxNotifications(false);
                }
                catch (RegionClosedException)
                {
                    // Unmapped: nobody is left to notify; the waiter already has its outcome.
                }
            }
        }
    }

    private void WaitForTx(Task signal, long deadline, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        int wait = RemainingMilliseconds(deadline);
        if (wait == 0)
            throw TxTimeout();
        int slice = (int)Math.Min(wait == Timeout.Infinite ? int.MaxValue : wait, Options.IdleRecheckInterval.TotalMilliseconds);
        if (IsDispatcherContext)
        {
            // Sending from a callback: the dispatcher is us, so nobody else watches the doorbell.
            // Keep the peer's buffers flowing (parking), then wait on the doorbell directly; Stop
            // cancels the wait through the device's own token.
            if (Volatile.Read(ref _transport) is { } transport)
            {
                try
                {
                    ParkPending(transport);
                }
                catch (RegionClosedException e)
                {
                    throw Unmapped(e);
                }
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            try
            {
                _doorbell.Wait(TimeSpan.FromMilliseconds(slice), linked.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Stopped: the caller's next step reports RpmsgDeviceUnavailableException.
            }
            return;
        }
        try
        {
            // With a dispatcher thread the signal comes as soon as buffers return. Without one
            // (CallerPoll) it comes from the application's Poll(), which a thread blocked here may be
            // the only one to call: re-check at least every IdleRecheckInterval (sends reclaim).
            signal.Wait(_dispatcher is null ? slice : wait, cancellationToken);
        }
        catch (AggregateException)
        {
            // Signal faulted/cancelled by stop: the next try reports the state.
        }
    }

    private TimeoutException TxTimeout() =>
        new($"rpmsg device '{Name}': no free tx buffer within the send timeout ({Options.SendTimeout.TotalMilliseconds} ms unless overridden)");

    private void SignalTx()
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _txSignal, next).TrySetResult();
    }

    // ---- receive dispatch ------------------------------------------------------------------------

    [ThreadStatic]
    private static RpmsgDevice? t_dispatching;

    internal bool IsDispatcherContext => ReferenceEquals(t_dispatching, this);

    /// <summary>
    /// Caller-driven dispatch (<see cref="RpmsgWaitStrategy.CallerPoll"/>, or extra polling in any mode):
    /// handles what is pending now, wakes blocked senders if buffers came back, and returns the number
    /// of messages handled. Never blocks.
    /// </summary>
    public int Poll()
    {
        if (IsDispatcherContext)
            throw new InvalidOperationException($"rpmsg device '{Name}': Poll from inside a receive callback would deliver messages re-entrantly");
        // One dispatcher at a time: the rings have one consumer. A Poll racing the dispatcher thread
        // (or another Poll) does nothing rather than consume concurrently.
        if (Interlocked.CompareExchange(ref _dispatchOwner, 1, 0) != 0)
            return 0;
        var outer = t_dispatching;
        t_dispatching = this;
        try
        {
            if (_state == RpmsgDeviceState.Starting && Role == RpmsgRole.Remote && !TryCompleteRemoteLinkUp())
                return 0;
            ThrowIfUnavailable();
            return ProcessPending(int.MaxValue);
        }
        catch (FaultException e)
        {
            Break(e.Fault);
            throw new RpmsgDeviceUnavailableException(Name, RpmsgDeviceState.Broken, e.Fault);
        }
        catch (RegionClosedException e)
        {
            throw Unmapped(e);
        }
        finally
        {
            t_dispatching = outer;
            Volatile.Write(ref _dispatchOwner, 0);
        }
    }

    private int _dispatchOwner;

    /// <summary>The dispatcher thread takes the same ownership as Poll around each batch.</summary>
    private int ProcessPendingOwned(int budget)
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _dispatchOwner, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
        try
        {
            return ProcessPending(budget);
        }
        finally
        {
            Volatile.Write(ref _dispatchOwner, 0);
        }
    }

    private int ProcessPending(int budget)
    {
        var transport = _transport!;
        int handled = 0;
        while (handled < budget && _state == RpmsgDeviceState.Running)
        {
            // Parked messages are older than anything still in the ring: they go first.
            if (_parkCount > 0)
            {
                DeliverParked();
                continue;
            }
            if (!transport.TryReceive(out var rx))
                break;
            HandleReceived(transport, rx);
            handled++;
        }
        if (transport.Fault is { } fault)
            Break(fault);
        else
            CheckStatus();
        if (Volatile.Read(ref _txWaiters) > 0 && transport.TxAvailable)
            SignalTx();
        return handled;
    }

    private void HandleReceived(IRpmsgTransport transport, in RpmsgBufferRef rx, bool park = false)
    {
        Interlocked.Increment(ref _rxMessages);
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
            header = RpmsgHeader.Read(lease.GetReadOnlySpan(rx.Offset, RpmsgHeader.Size));
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
            _endpoints.TryGetValue(header.Destination, out endpoint);
            if (endpoint is not null && (park || !endpoint.IsZeroCopy))
            {
                copy = park ? ParkSlot(header, length) : _rxScratch.AsSpan(0, length);
                lease.GetReadOnlySpan(rx.Offset + RpmsgHeader.Size, length).CopyTo(copy);
            }
        }
        if (endpoint is null)
        {
            transport.ReleaseRx(rx.Id);
            transport.FlushRx();
            CountDropped($"no endpoint at dst 0x{header.Destination:X} (src 0x{header.Source:X}, {length} bytes)");
            return;
        }
        if (park)
        {
            // ParkPending publishes once for the whole batch: no callback runs in between.
            _parkCount++;
            transport.ReleaseRx(rx.Id);
            return;
        }
        if (endpoint.IsZeroCopy)
        {
            var held = _rxBuffers[rx.Id];
            if (held.IsLive)
            {
                // The peer handed us a buffer we still hold: it reused a descriptor it had not got back.
                Break(new Fault(FaultLayer.Rpmsg, FaultRule.HeldBufferRedelivered, "rx buffer", (ulong)rx.Id,
                    $"rx buffer {rx.Id} was delivered again while the application still holds it"));
                return;
            }
            held.Arm(rx.Region, rx.Offset + RpmsgHeader.Size, length, header.Source, header.Destination);
            DeliverZeroCopy(endpoint, held);
            return;
        }
        // Give the buffer back before the callback: the callback may block sending, and the peer may
        // need this buffer to make progress (a remote blocked on rx buffers would never return ours).
        transport.ReleaseRx(rx.Id);
        transport.FlushRx();
        Deliver(endpoint, header.Source, header.Destination, copy);
    }

    private void Deliver(RpmsgEndpoint endpoint, uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        try
        {
            if (!endpoint.Deliver(source, payload))
                CountDropped($"endpoint 0x{destination:X} destroyed while a message was in flight");
        }
        catch (Exception e)
        {
            CallbackFailed(endpoint, e);
        }
    }

    private void DeliverZeroCopy(RpmsgEndpoint endpoint, RpmsgRxBuffer buffer)
    {
        try
        {
            if (!endpoint.DeliverZeroCopy(buffer))
                CountDropped($"endpoint 0x{buffer.Destination:X} destroyed while a message was in flight");
        }
        catch (Exception e)
        {
            CallbackFailed(endpoint, e);
        }
        finally
        {
            buffer.HandlerReturned();
        }
    }

    // ---- parking: the dispatcher blocked inside a callback keeps the peer moving ---------------------
    //
    // A callback that blocks sending (no free tx buffer) stops this side from returning the peer's
    // buffers; if the peer in turn blocks sending to us, both wait forever. While the dispatcher waits
    // inside a callback it therefore copies newly received messages into a private backlog and gives
    // their buffers back at once. The backlog is delivered, in order, before anything else afterwards.

    private readonly record struct ParkedMessage(uint Source, uint Destination, int Length);

    private byte[] _parkSlab = [];
    private ParkedMessage[] _parked = [];
    private int _parkHead;
    private int _parkCount;

    private Span<byte> ParkSlot(RpmsgHeader header, int length)
    {
        int slot = (_parkHead + _parkCount) % _parked.Length;
        _parked[slot] = new ParkedMessage(header.Source, header.Destination, length);
        return _parkSlab.AsSpan(slot * MaxPayload, length);
    }

    private void ParkPending(IRpmsgTransport transport)
    {
        if (_parked.Length == 0)
        {
            // Allocated on first need only: most applications never block inside a callback.
            _parked = new ParkedMessage[_layout.BufferCount];
            _parkSlab = new byte[_layout.BufferCount * MaxPayload];
        }
        while (_parkCount < _parked.Length && _state == RpmsgDeviceState.Running && transport.TryReceive(out var rx))
            HandleReceived(transport, rx, park: true);
        transport.FlushRx();
    }

    private void DeliverParked()
    {
        while (_parkCount > 0 && _state == RpmsgDeviceState.Running)
        {
            // The slot stays occupied while its callback runs (parking during it appends behind).
            var m = _parked[_parkHead];
            var payload = _parkSlab.AsSpan(_parkHead * MaxPayload, m.Length);
            if (!_endpoints.TryGetValue(m.Destination, out var endpoint))
            {
                CountDropped($"no endpoint at dst 0x{m.Destination:X} (src 0x{m.Source:X}, {m.Length} bytes)");
            }
            else if (endpoint.IsZeroCopy)
            {
                var copy = new RpmsgRxBuffer(this, -1);
                copy.ArmPrivate(payload.ToArray(), m.Length, m.Source, m.Destination);
                DeliverZeroCopy(endpoint, copy);
            }
            else
            {
                Deliver(endpoint, m.Source, m.Destination, payload);
            }
            _parkHead = (_parkHead + 1) % _parked.Length;
            _parkCount--;
        }
    }

    private void DropReceived(IRpmsgTransport transport, int id, string why)
    {
        transport.ReleaseRx(id);
        transport.FlushRx();
        CountError("bad message: " + why);
    }

    private void CallbackFailed(RpmsgEndpoint endpoint, Exception e)
    {
        long n = Interlocked.Increment(ref _callbackErrors);
        if (n <= 10 || n % 1000 == 0)
            _log.LogError(e, "rpmsg {Device}: receive callback of endpoint 0x{Address:X} threw ({Count} so far)", Name, endpoint.Address, n);
    }

    internal void ReleaseRxBuffer(int id)
    {
        Interlocked.Increment(ref _dataOperations);
        try
        {
            if (_state != RpmsgDeviceState.Running || Volatile.Read(ref _transport) is not { } transport)
                return;
            transport.ReleaseRx(id);
            transport.FlushRx();
        }
        catch (Exception e) when (e is RegionClosedException or VirtqueueBrokenException)
        {
            _log.LogWarning("rpmsg {Device}: held rx buffer not returned: {Reason}", Name, e.Message);
        }
        finally
        {
            ExitDataOperation();
        }
    }

    // ---- the dispatcher thread ------------------------------------------------------------------

    private void DispatcherMain()
    {
        t_dispatching = this;
        var token = _stop.Token;
        try
        {
            if (Options.DispatcherCpu is int cpu)
            {
                try
                {
                    VirtioRpmsg.Platform.CpuAffinity.PinCurrentThread(cpu);
                }
                catch (VirtioRpmsg.Interop.NativeCallException e)
                {
                    // A CPU that is offline or outside our cpuset: keep working unpinned, but say so.
                    _log.LogWarning("rpmsg {Device}: dispatcher not pinned to CPU {Cpu}: {Reason}", Name, cpu, e.Message);
                }
            }
            if (Role == RpmsgRole.Remote)
            {
                while (!TryCompleteRemoteLinkUp())
                {
                    if (_state != RpmsgDeviceState.Starting)
                        return;
                    _doorbell.Wait(Options.IdleRecheckInterval, token);
                }
            }
            switch (Options.WaitStrategy)
            {
                case RpmsgWaitStrategy.Interrupt:
                    RunLoop(TimeSpan.Zero, token);
                    break;
                case RpmsgWaitStrategy.Hybrid:
                    RunLoop(Options.HybridSpin, token);
                    break;
                default:
                    RunLoop(Options.BusyPollIdleTimeout, token);
                    break;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (FaultException e)
        {
            Break(e.Fault);
        }
        catch (RegionClosedException e)
        {
            Break(new Fault(FaultLayer.Memory, FaultRule.MemoryUnmapped, "region", 0, "shared memory unmapped under the dispatcher: " + e.Message));
        }
        catch (Exception e)
        {
            // Never let an exception escape to kill the process; report and stop dispatching.
            _log.LogCritical(e, "rpmsg {Device}: dispatcher failed", Name);
            Break(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "dispatcher", 0, "dispatcher failed: " + e.Message));
        }
    }

    /// <summary>
    /// Process, spin for up to <paramref name="spinBudget"/> while idle, then block on the doorbell
    /// with notifications re-enabled (and re-checked, so a message that raced the enable is not missed).
    /// </summary>
    private void RunLoop(TimeSpan spinBudget, CancellationToken token)
    {
        var transport = _transport!;
        long spinTicks = (long)(spinBudget.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (!token.IsCancellationRequested && _state == RpmsgDeviceState.Running)
        {
            transport.DisableRxNotifications();
            if (ProcessPendingOwned(64) > 0)
                continue;
            if (spinTicks > 0 && SpinUntilWork(transport, spinTicks, token))
                continue;
            if (!transport.EnableRxNotifications())
                continue;
            if (Volatile.Read(ref _txWaiters) > 0 && transport.TxAvailable)
            {
                SignalTx();
            }
            _doorbell.Wait(Options.IdleRecheckInterval, token);
        }
    }

    private bool SpinUntilWork(IRpmsgTransport transport, long spinTicks, CancellationToken token)
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + spinTicks;
        int i = 0;
        while (!token.IsCancellationRequested)
        {
            if (transport.RxPending || (Volatile.Read(ref _txWaiters) > 0 && transport.TxAvailable))
                return true;
            if ((++i & 63) == 0 && System.Diagnostics.Stopwatch.GetTimestamp() > until)
                return false;
            Thread.SpinWait(8);
        }
        return false;
    }
}
