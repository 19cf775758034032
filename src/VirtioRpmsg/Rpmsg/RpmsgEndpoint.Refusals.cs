using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// What the receive, send and delivery paths refuse or count, worded out of line: string building inlined into a
// method every message passes through grows the frame it zeroes on every call (RpmsgRxDispatcher.Drops.cs).
public sealed partial class RpmsgEndpoint
{
    // The wording is built only when the log takes it (enabled for warnings, and within the rate limit): a full queue
    // drops on the dispatcher, per message, and nothing there may allocate for a log that is off.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountQueueFull()
    {
        Interlocked.Increment(ref _queueDrops);
        var counters = Device.CounterSet;
        if (counters.CountDroppedAndShouldLog(1, out long total))
            counters.LogDropped(1, total, $"endpoint 0x{Address:X} receive queue full ({QueueCapacity} messages, or the device-wide {Device.QueueBudget.Limit} bytes)");
    }

    /// <summary>The device's queue budget took back what this endpoint (its channel withdrawn by the peer) still held unread.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void CountReclaimed(int messages)
    {
        Interlocked.Add(ref _queueDrops, messages);
        var counters = Device.CounterSet;
        if (counters.CountDroppedAndShouldLog(messages, out long total))
            counters.LogDropped(messages, total, ReclaimedText(messages));
    }

    private string ReclaimedText(long messages) =>
        $"endpoint 0x{Address:X}: {messages} unread messages of channel '{Platform.PrintableText.Of(Channel?.Name)}', withdrawn by the peer's DESTROY, dropped to give the device-wide {Device.QueueBudget.Limit} bytes of MaxQueuedBytes to live endpoints";

    /// <summary>What a reader of a channel whose unread messages the queue budget took back gets, once it read what was left.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private RpmsgMessagesDroppedException ReclaimedError(long messages) => new(Address, messages,
        $"{ReclaimedText(messages)}: they were never read, so what was read is not all the peer sent");

    /// <summary>Refuses a negative timeout other than <see cref="Timeout.InfiniteTimeSpan"/> (one compare; the wording out of line).</summary>
    internal static void CheckTimeout(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            ThrowBadTimeout(timeout);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadTimeout(TimeSpan timeout) =>
        throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "timeout must be zero (do not wait), positive, or Timeout.InfiniteTimeSpan.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNoMessage(TimeSpan timeout) =>
        throw new TimeoutException($"endpoint 0x{Address:X} on '{Device.Name}': no message within {timeout.TotalMilliseconds} ms");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowReceiveInCallback() =>
        throw new InvalidOperationException($"endpoint 0x{Address:X}: a blocking receive inside a receive callback would wait for the dispatcher that is running it");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNoQueue() =>
        throw new InvalidOperationException($"endpoint 0x{Address:X} delivers to a callback; it has no receive queue");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNoRemoteAddress() =>
        throw new InvalidOperationException($"endpoint 0x{Address:X} has no remote address yet; use SendTo or wait for the peer's first message");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowDestroyed() => throw SendRefusal(); // the device's stop or break first, as for a send

    /// <summary>
    /// Why a destroyed endpoint may not send or receive: the device stopped or broke (which destroys every endpoint;
    /// checked first, so a sender and a receiver get the documented <see cref="RpmsgDeviceUnavailableException"/>), or
    /// the endpoint was disposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal Exception SendRefusal() =>
        Device.State is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped ? Device.Unavailable(Device.State) : DestroyedError();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ObjectDisposedException DestroyedError() =>
        new($"rpmsg endpoint 0x{Address:X}", _peerDestroyed
            ? $"endpoint 0x{Address:X} on '{Device.Name}' was destroyed: the peer's name-service DESTROY removed its channel '{Platform.PrintableText.Of(Channel?.Name)}'"
            : $"endpoint 0x{Address:X} on '{Device.Name}' was destroyed");
}
