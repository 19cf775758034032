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
    private readonly long[] _counts = new long[(int)FaultRule.MemoryUnmapped + 1];
    private volatile Fault? _fault;

    internal VirtqueueHealth(string queueName) => _queueName = queueName;

    internal bool IsBroken => _fault is not null;

    internal Fault? Fault => _fault;

    /// <summary>Violations of <paramref name="rule"/> seen since the queue was created (reset does not clear them).</summary>
    internal long Count(FaultRule rule) =>
        (uint)rule < (uint)_counts.Length ? Interlocked.Read(ref _counts[(int)rule]) : 0;

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
        if (_fault is not null)
            ThrowBroken();
    }

    /// <summary>
    /// Counts the violation, marks the queue broken and throws. <paramref name="field"/> and
    /// <paramref name="value"/> are what was read; <paramref name="detail"/> says it in a sentence.
    /// </summary>
    [DoesNotReturn]
    internal void Break(FaultRule rule, string field, ulong value, string detail)
    {
        Interlocked.Increment(ref _counts[(int)rule]);
        // Volatile write of a complete record: a reader sees all of it or nothing.
        _fault = new Fault(FaultLayer.Virtqueue, rule, field, value,
            $"Virtqueue '{_queueName}' is broken ({rule}): {detail}. It refuses all work until Reset().");
        ThrowBroken();
    }

    internal void Clear() => _fault = null;

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBroken() => throw new VirtqueueBrokenException(_queueName, _fault!);
}
