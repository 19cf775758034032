using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The send family. A destroyed endpoint sends nothing: its address is free for the next endpoint created, so a send
/// with it as the source would reach the peer as that endpoint's. Every send, try and tx-buffer take throws
/// <see cref="ObjectDisposedException"/> then (the async ones return it faulted), at the cost of one volatile read, or
/// <see cref="RpmsgDeviceUnavailableException"/> when the device stopped or broke (which destroys every endpoint);
/// a sender waiting for a tx buffer (or for the remote address) when the endpoint is destroyed is woken and throws it
/// too, rather than waiting out its timeout. An off-channel send names its own source, and is refused the same way.
/// <see cref="RpmsgAddress.Any"/> as a destination or source is refused with <see cref="ArgumentOutOfRangeException"/>
/// (faulted task for the async ones), as Linux refuses it with -EINVAL; <see cref="Send(ReadOnlySpan{byte}, CancellationToken)"/>
/// and its kin wait for an unknown <see cref="RemoteAddress"/> instead, and <see cref="TrySend"/> returns false.
/// A negative timeout other than <see cref="Timeout.InfiniteTimeSpan"/> throws <see cref="ArgumentOutOfRangeException"/> naming
/// <c>timeout</c>, as <see cref="RpmsgDeviceOptions.SendTimeout"/> refuses one (zero: do not wait).
/// A token already cancelled when a send (or <see cref="GetTxBuffer"/>) is called sends (takes) nothing: the blocking
/// ones throw <see cref="OperationCanceledException"/>, the async ones return a canceled task; after a destroy the
/// destroy is reported instead.
/// </summary>
public sealed partial class RpmsgEndpoint
{
    /// <summary>Sends to <see cref="RemoteAddress"/>, waiting up to the device's send timeout for a buffer (and for the remote address).</summary>
    public void Send(ReadOnlySpan<byte> payload, CancellationToken cancellationToken = default) =>
        Send(payload, Device.Options.SendTimeout, cancellationToken);

    /// <summary>Sends to <see cref="RemoteAddress"/>, waiting up to <paramref name="timeout"/>.</summary>
    public void Send(ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        ThrowIfCannotSend();
        cancellationToken.ThrowIfCancellationRequested(); // nothing sent, as SendAsync's canceled task
        uint destination = RemoteAddress;
        if (destination != RpmsgAddress.Any)
        {
            Device.Tx.Send(Address, destination, payload, timeout, cancellationToken, this);
            return;
        }
        Device.Tx.CheckPayload(payload.Length); // before the wait for the address, not after it
        var deadline = Deadline.Within(timeout);
        destination = WaitForRemoteAddress(deadline, cancellationToken);
        Device.Tx.Send(Address, destination, payload, deadline.Remaining, cancellationToken, this, stated: timeout);
    }

    /// <summary>Sends to <paramref name="destination"/> (Linux rpmsg_sendto).</summary>
    public void SendTo(uint destination, ReadOnlySpan<byte> payload, CancellationToken cancellationToken = default) =>
        SendTo(destination, payload, Device.Options.SendTimeout, cancellationToken);

    /// <summary>Sends to <paramref name="destination"/>, waiting up to <paramref name="timeout"/>.</summary>
    public void SendTo(uint destination, ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        ThrowIfCannotSend();
        cancellationToken.ThrowIfCancellationRequested();
        Device.Tx.Send(Address, destination, payload, timeout, cancellationToken, this);
    }

    /// <summary>Sends with an explicit source and destination (Linux rpmsg_send_offchannel).</summary>
    public void SendOffChannel(uint source, uint destination, ReadOnlySpan<byte> payload, CancellationToken cancellationToken = default) =>
        SendOffChannel(source, destination, payload, Device.Options.SendTimeout, cancellationToken);

    /// <summary>Sends with an explicit source and destination, waiting up to <paramref name="timeout"/>.</summary>
    public void SendOffChannel(uint source, uint destination, ReadOnlySpan<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        ThrowIfCannotSend();
        cancellationToken.ThrowIfCancellationRequested();
        Device.Tx.Send(source, destination, payload, timeout, cancellationToken, this);
    }

    /// <summary>Sends if a buffer is free and the remote address is known; false at once otherwise (rpmsg_trysend).</summary>
    public bool TrySend(ReadOnlySpan<byte> payload)
    {
        ThrowIfCannotSend();
        uint destination = RemoteAddress;
        if (destination != RpmsgAddress.Any)
            return Device.Tx.TrySend(Address, destination, payload, owner: this) || RefusedIfDestroyed();
        Device.Tx.CheckPayload(payload.Length); // refused, not "try again later"
        return false;
    }

    /// <summary>Sends to <paramref name="destination"/> if a buffer is free; false at once otherwise.</summary>
    public bool TrySendTo(uint destination, ReadOnlySpan<byte> payload)
    {
        ThrowIfCannotSend();
        return Device.Tx.TrySend(Address, destination, payload, owner: this) || RefusedIfDestroyed();
    }

    /// <summary>Off-channel send if a buffer is free; false at once otherwise.</summary>
    public bool TrySendOffChannel(uint source, uint destination, ReadOnlySpan<byte> payload)
    {
        ThrowIfCannotSend();
        return Device.Tx.TrySend(source, destination, payload, owner: this) || RefusedIfDestroyed();
    }

    // A try that sent nothing: destroyed since its first check (looked at again under the tx gate), it throws as a
    // send on a destroyed endpoint does; otherwise false (no buffer free).
    private bool RefusedIfDestroyed()
    {
        ThrowIfCannotSend();
        return false;
    }

    /// <summary>Sends to <see cref="RemoteAddress"/> asynchronously, within the device's send timeout.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (IsDestroyed)
            return ValueTask.FromException(SendRefusal());
        return RemoteAddress is var known && known != RpmsgAddress.Any
            ? Device.Tx.SendAsync(Address, known, payload, Device.Options.SendTimeout, cancellationToken, this)
            : SendOnceRemoteKnownAsync(payload, Deadline.Within(Device.Options.SendTimeout), cancellationToken);
    }

    // An async method only while the address is unknown: a debug build allocates an async method's state machine per call.
    private async ValueTask SendOnceRemoteKnownAsync(ReadOnlyMemory<byte> payload, Deadline deadline, CancellationToken cancellationToken)
    {
        Device.Tx.CheckPayload(payload.Length); // before the wait for the address (faults the task, as an async method does)
        await Device.Tx.SendAsync(Address, await WaitForRemoteAddressAsync(deadline, cancellationToken).ConfigureAwait(false), payload, deadline.Remaining, cancellationToken, this, Device.Options.SendTimeout).ConfigureAwait(false);
    }

    /// <summary>Sends to <paramref name="destination"/> asynchronously.</summary>
    public ValueTask SendToAsync(uint destination, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        IsDestroyed
            ? ValueTask.FromException(SendRefusal())
            : Device.Tx.SendAsync(Address, destination, payload, Device.Options.SendTimeout, cancellationToken, this);

    /// <summary>Off-channel send, asynchronously.</summary>
    public ValueTask SendOffChannelAsync(uint source, uint destination, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        IsDestroyed
            ? ValueTask.FromException(SendRefusal())
            : Device.Tx.SendAsync(source, destination, payload, Device.Options.SendTimeout, cancellationToken, this);

    // ---- zero-copy send ------------------------------------------------------------------------

    /// <summary>Takes a tx buffer to fill in place; false at once when none is free.</summary>
    public bool TryGetTxBuffer(out RpmsgTxBuffer buffer)
    {
        ThrowIfCannotSend();
        if (!Device.Tx.TryAcquire(out var raw))
        {
            buffer = default;
            return false;
        }
        buffer = new RpmsgTxBuffer(this, raw);
        return true;
    }

    /// <summary>Takes a tx buffer, waiting up to <paramref name="timeout"/> for one.</summary>
    public RpmsgTxBuffer GetTxBuffer(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        ThrowIfCannotSend();
        cancellationToken.ThrowIfCancellationRequested();
        var raw = Device.Tx.Acquire(timeout, cancellationToken, this);
        return new RpmsgTxBuffer(this, raw);
    }
}
