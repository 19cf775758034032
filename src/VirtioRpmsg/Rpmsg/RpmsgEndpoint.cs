using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A local rpmsg address with a way to receive: a callback, a zero-copy callback, or a queue read
/// with <see cref="ReceiveAsync"/> / <see cref="Receive"/>. Sends carry this endpoint's address as
/// the source. Dispose destroys it: it is marked destroyed first (no send of it starts after, and one under way is
/// on the ring before the address is free again), then the address is unpublished and running callbacks are
/// waited out, so after Dispose returns the callback never runs again and nothing more is sent with its address.
/// </summary>
public sealed partial class RpmsgEndpoint : IDisposable
{
    private readonly RpmsgReceiveHandler? _handler;
    private readonly RpmsgZeroCopyReceiveHandler? _zeroCopyHandler;
    private readonly RpmsgEndpointQueue? _queue;
    private Func<Exception>? _closed; // made once: ReceiveAsync allocates nothing per call
    private uint _remoteAddress;
    private readonly bool _remoteGiven; // the application chose the remote address: the name service never changes it
    private int _callbacksRunning;
    private int _destroyed;
    private volatile bool _peerDestroyed; // by the peer's DESTROY: what it sent before is still read (set before _destroyed)
    private TaskCompletionSource? _remoteKnown;
    private long _queueDrops;

    internal RpmsgEndpoint(RpmsgDevice device, uint address, uint remoteAddress, RpmsgReceiveHandler? handler, RpmsgZeroCopyReceiveHandler? zeroCopyHandler, int queueCapacity)
    {
        Device = device;
        Address = address;
        _remoteAddress = remoteAddress;
        _remoteGiven = remoteAddress != RpmsgAddress.Any;
        _handler = handler;
        _zeroCopyHandler = zeroCopyHandler;
        if (handler is null && zeroCopyHandler is null)
            _queue = new RpmsgEndpointQueue(queueCapacity, device.QueueBudget, RpmsgEndpointQueue.SpinBudget(device.Options), device) { Owner = this };
    }

    /// <summary>The device this endpoint lives on.</summary>
    public RpmsgDevice Device { get; }

    /// <summary>Local address (the source of what this endpoint sends).</summary>
    public uint Address { get; }

    /// <summary>Where <see cref="Send(ReadOnlySpan{byte}, CancellationToken)"/> goes; <see cref="RpmsgAddress.Any"/> until known (it is learned from the first message received).</summary>
    public uint RemoteAddress => Volatile.Read(ref _remoteAddress);

    /// <summary>Name announced through the name service, if any.</summary>
    public string? Name { get; internal set; }

    /// <summary>The channel this endpoint serves, if it was created for one.</summary>
    public RpmsgChannel? Channel { get; internal set; }

    /// <summary>True once destroyed.</summary>
    public bool IsDestroyed => Volatile.Read(ref _destroyed) != 0;

    /// <summary>Destroyed by the peer's name-service DESTROY of its channel (what the peer sent before is still read).</summary>
    internal bool IsDestroyedByPeer => _peerDestroyed && IsDestroyed;

    /// <summary>Largest payload of one message.</summary>
    public int MaxPayload => Device.MaxPayload;

    /// <summary>Messages dropped because the receive queue was full, or the device-wide <c>MaxQueuedBytes</c> budget was spent.</summary>
    public long QueueDrops => Interlocked.Read(ref _queueDrops);

    internal int QueueCapacity => _queue?.Capacity ?? 0;

    /// <summary>The receive queue (null for a callback endpoint).</summary>
    internal RpmsgEndpointQueue? ReceiveQueue => _queue;

    internal bool IsZeroCopy => _zeroCopyHandler is not null;

    // ---- queue-style receive -------------------------------------------------------------------

    /// <summary>
    /// Waits for the next message and copies it into <paramref name="destination"/>. A destination
    /// too small for the message throws <see cref="ArgumentException"/> and leaves the message queued. Failures fault
    /// the returned task. A token already cancelled gives a canceled task, even with a message queued (it stays queued).
    /// </summary>
    /// <exception cref="InvalidOperationException">A callback endpoint (no receive queue), or a blocking receive inside a receive callback.</exception>
    /// <exception cref="ObjectDisposedException">The endpoint was destroyed (also ends a receive in progress).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke (the fault is attached).</exception>
    /// <exception cref="RpmsgMessagesDroppedException">The peer withdrew the channel and the queue budget dropped messages left unread (after those read before).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (also before the call: no message is taken).</exception>
    public ValueTask<RpmsgReceiveResult> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        try
        {
            var queue = QueueOrThrow();
            // Cancelled before the call: canceled, the message left queued (as RpmsgStream, the pipe and a Channel do).
            if (cancellationToken.IsCancellationRequested)
                return ValueTask.FromCanceled<RpmsgReceiveResult>(cancellationToken);
            return queue.ReceiveAsync(destination, _closed ??= Closed, cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return ValueTask.FromException<RpmsgReceiveResult>(e); // misuse and a destroyed endpoint fault the task, as before
        }
    }

    /// <summary>Blocking receive with a timeout; throws <see cref="TimeoutException"/> when nothing arrives in time.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    /// <exception cref="InvalidOperationException">A callback endpoint (no receive queue), or a blocking receive inside a receive callback.</exception>
    /// <exception cref="ObjectDisposedException">The endpoint was destroyed (also ends a receive in progress).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke (the fault is attached).</exception>
    /// <exception cref="RpmsgMessagesDroppedException">The peer withdrew the channel and the queue budget dropped messages left unread (after those read before).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (also before the call: no message is taken).</exception>
    public RpmsgReceiveResult Receive(Span<byte> destination, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!TryReceive(destination, timeout, out var result, cancellationToken))
            ThrowNoMessage(timeout);
        return result;
    }

    /// <summary>Receives if a message arrives within <paramref name="timeout"/> (zero: only what is queued now; <see cref="Timeout.InfiniteTimeSpan"/>: no limit).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    /// <exception cref="InvalidOperationException">A callback endpoint (no receive queue), or a blocking receive inside a receive callback.</exception>
    /// <exception cref="ObjectDisposedException">The endpoint was destroyed (also ends a receive in progress).</exception>
    /// <exception cref="RpmsgDeviceUnavailableException">The device stopped or broke (the fault is attached).</exception>
    /// <exception cref="RpmsgMessagesDroppedException">The peer withdrew the channel and the queue budget dropped messages left unread (after those read before).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (also before the call: no message is taken).</exception>
    public bool TryReceive(Span<byte> destination, TimeSpan timeout, out RpmsgReceiveResult result, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        var queue = QueueOrThrow();
        cancellationToken.ThrowIfCancellationRequested(); // before a take: the message stays queued
        Memory.MappingLease.ThrowIfHeld("RpmsgEndpoint.Receive");
        if (timeout == TimeSpan.Zero)
            return TryTakeQueued(queue, destination, out result);
        if (Device.IsDispatcherContext)
            ThrowReceiveInCallback();
        var direct = new RpmsgDirectReceive(queue, destination);
        Deadline deadline = default;
        for (bool waited = false; ; waited = true)
        {
            if (queue.TryDequeue(destination, out result))
                return true;
            if (queue.IsClosed)
                throw Closed();
            // The clock is read only once the receive has to wait.
            if (!waited)
                deadline = Deadline.Within(timeout);
            int wait = deadline.RemainingMilliseconds;
            if (wait == 0 || !queue.Wait(wait, cancellationToken, ref direct))
            {
                ThrowIfDestroyed();
                return false;
            }
            if (direct.Done)
            {
                result = direct.Result;
                return true;
            }
        }
    }

    // A zero timeout takes only what is queued: no deadline, so no clock read (the pipe's Input does this after every
    // receive, and two reads of the clock were most of what a read cost it over ReceiveAsync).
    private bool TryTakeQueued(RpmsgEndpointQueue queue, Span<byte> destination, out RpmsgReceiveResult result)
    {
        if (queue.TryDequeue(destination, out result))
            return true;
        if (queue.IsClosed)
            throw Closed();
        ThrowIfDestroyed();
        return false;
    }

    private RpmsgEndpointQueue QueueOrThrow()
    {
        if (_queue is null)
            ThrowNoQueue();
        // Destroyed by the device's stop (or destroyed after it broke), or by the peer's DESTROY: what is queued is still
        // read, then the closed queue reports why (Closed). Destroyed by the application: refused at once (and its queue
        // was dropped, also when the peer's DESTROY came first).
        if (IsDestroyed && !IsDeviceGone && !_peerDestroyed)
            ThrowDestroyed();
        return _queue;
    }

    private bool IsDeviceGone => Device.State is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped;

    /// <summary>
    /// Why a closed, drained queue has nothing more: messages of the peer's withdrawn channel were dropped unread by the
    /// queue budget (checked first: what the reader got is not all the peer sent), the device broke or stopped, or the
    /// endpoint was destroyed.
    /// </summary>
    private Exception Closed()
    {
        if (_queue!.Reclaimed > 0)
            return ReclaimedError(_queue.Reclaimed);
        if (IsDeviceGone)
            return Device.Unavailable(Device.State);
        ThrowIfDestroyed();
        return new InvalidOperationException($"endpoint 0x{Address:X}: receive queue closed");
    }

    // ---- dispatcher side -----------------------------------------------------------------------

    /// <summary>Delivers one message (dispatcher thread). False if the endpoint was destroyed meanwhile.</summary>
    internal bool Deliver(uint source, ReadOnlySpan<byte> payload)
    {
        if (!TryEnterCallback(source, out var outer))
            return false;
        try
        {
            if (_handler is not null)
            {
                _handler(this, source, payload);
            }
            else if (!_queue!.TryEnqueue(source, payload))
            {
                // Closed by Stop or Break (which close the queues as they begin, while this delivery ran) or a destroy:
                // a message in flight to an endpoint that went away (the dispatcher counts it so), not a full queue.
                if (_queue.IsClosing)
                    return false;
                CountQueueFull();
            }
        }
        finally
        {
            ExitCallback(outer);
        }
        return true;
    }

    internal bool DeliverZeroCopy(RpmsgRxBuffer buffer)
    {
        if (!TryEnterCallback(buffer.Source, out var outer))
            return false;
        try
        {
            _zeroCopyHandler!(this, buffer);
        }
        finally
        {
            ExitCallback(outer);
        }
        return true;
    }

    private void LearnRemoteAddress(uint source)
    {
        // OpenAMP behaviour: an endpoint created without a destination learns it from the first message.
        if (Volatile.Read(ref _remoteAddress) == RpmsgAddress.Any && source != RpmsgAddress.Any &&
            Interlocked.CompareExchange(ref _remoteAddress, source, RpmsgAddress.Any) == RpmsgAddress.Any)
            Interlocked.Exchange(ref _remoteKnown, null)?.TrySetResult();
    }

    /// <summary>Wakes receivers and senders waiting on this endpoint so they see the device state (break/stop) or the destroy.</summary>
    internal void WakeWaiters()
    {
        Interlocked.Exchange(ref _remoteKnown, null)?.TrySetResult();
        _queue?.Close();
    }

    internal uint RemoteAddressOrThrow()
    {
        uint remote = RemoteAddress;
        if (remote == RpmsgAddress.Any)
            ThrowNoRemoteAddress();
        return remote;
    }

    private uint WaitForRemoteAddress(Deadline deadline, CancellationToken cancellationToken)
    {
        uint remote = RemoteAddress;
        if (remote != RpmsgAddress.Any)
            return remote;
        Memory.MappingLease.ThrowIfHeld("RpmsgEndpoint.Send");
        if (Device.IsDispatcherContext)
            throw new InvalidOperationException($"endpoint 0x{Address:X}: the remote address is learned from received messages, which cannot arrive while a receive callback runs; use SendTo");
        var task = RemoteKnownTask();
        while ((remote = RemoteAddress) == RpmsgAddress.Any)
        {
            int wait = RemoteAddressWait(deadline);
            try
            {
                task.Wait(wait, cancellationToken);
            }
            catch (AggregateException)
            {
                // Completed by destroy/stop: the loop re-checks and throws the specific exception.
            }
            task = RemoteKnownTask();
        }
        return remote;
    }

    private async ValueTask<uint> WaitForRemoteAddressAsync(Deadline deadline, CancellationToken cancellationToken)
    {
        uint remote;
        while ((remote = RemoteAddress) == RpmsgAddress.Any)
        {
            int wait = RemoteAddressWait(deadline);
            try
            {
                await RemoteKnownTask().WaitAsync(TimeSpan.FromMilliseconds(wait), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
        return remote;
    }

    /// <summary>Milliseconds a sender may still wait for the remote address; throws once it may not.</summary>
    private int RemoteAddressWait(Deadline deadline)
    {
        // Device first: an endpoint invalidated by a stop reports the documented "unavailable".
        Device.ThrowIfUnavailable();
        ThrowIfDestroyed();
        int wait = deadline.RemainingMilliseconds;
        if (wait == 0)
            throw new TimeoutException($"endpoint 0x{Address:X} on '{Device.Name}': remote address still unknown after the send timeout");
        return wait;
    }

    private Task RemoteKnownTask()
    {
        var existing = Volatile.Read(ref _remoteKnown);
        if (existing is not null)
            return existing.Task;
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        existing = Interlocked.CompareExchange(ref _remoteKnown, created, null) ?? created;
        // The address may have been learned between the check and the publication.
        if (RemoteAddress != RpmsgAddress.Any || IsDestroyed)
            existing.TrySetResult();
        return existing.Task;
    }

    // ---- destroy -------------------------------------------------------------------------------

    /// <summary>Destroys the endpoint (and announces its removal if it was announced).</summary>
    public void Dispose() => Device.DestroyEndpoint(this);

    /// <summary>Refuses a send once destroyed (one volatile read): <see cref="SendRefusal"/>.</summary>
    internal void ThrowIfCannotSend()
    {
        if (IsDestroyed)
            throw SendRefusal();
    }

    private void ThrowIfDestroyed()
    {
        if (IsDestroyed)
            ThrowDestroyed();
    }

    /// <summary>Addresses and service name, for logs.</summary>
    public override string ToString() => $"ept 0x{Address:X} -> {(RemoteAddress == RpmsgAddress.Any ? "any" : "0x" + RemoteAddress.ToString("X"))}{(Name is null ? "" : " '" + Name + "'")}";
}
