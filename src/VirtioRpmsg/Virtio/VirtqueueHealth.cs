using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// Broken state and per-rule error counters of one queue (like Linux's <c>vq-&gt;broken</c> / BAD_RING):
/// the first violation is counted, remembered, and thrown; every later call throws it again until reset.
/// </summary>
internal sealed class VirtqueueHealth
{
    private readonly string _queueName;
    private readonly long[] _counts = new long[Enum.GetValues<VirtqueueError>().Length];
    private volatile VirtqueueError _error;
    private string _message = "";

    internal VirtqueueHealth(string queueName) => _queueName = queueName;

    internal bool IsBroken => _error != VirtqueueError.None;

    internal VirtqueueError Reason => _error;

    /// <summary>Violations of <paramref name="error"/> seen since the queue was created (reset does not clear them).</summary>
    internal long Count(VirtqueueError error) =>
        (uint)error < (uint)_counts.Length ? Interlocked.Read(ref _counts[(int)error]) : 0;

    /// <summary>All violations seen since the queue was created.</summary>
    internal long Total
    {
        get
        {
            long sum = 0;
            for (int i = 1; i < _counts.Length; i++)
                sum += Interlocked.Read(ref _counts[i]);
            return sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void ThrowIfBroken()
    {
        if (_error != VirtqueueError.None)
            ThrowBroken();
    }

    /// <summary>Counts the violation, marks the queue broken and throws. <paramref name="detail"/> names the field and the value.</summary>
    [DoesNotReturn]
    internal void Break(VirtqueueError error, string detail)
    {
        Interlocked.Increment(ref _counts[(int)error]);
        _message = $"Virtqueue '{_queueName}' is broken ({error}): {detail}. It refuses all work until Reset().";
        _error = error; // volatile write: the message is visible before the state that points at it
        ThrowBroken();
    }

    internal void Clear()
    {
        _error = VirtqueueError.None;
        _message = "";
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBroken() => throw new VirtqueueBrokenException(_queueName, _error, _message);
}
