using System.Diagnostics;
using System.Runtime;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Whether the runtime has finished compiling the code a warm-up runs: no method compiled in the process (tier-up and
/// on-stack replacement included) for <see cref="Quiet"/>, or <see cref="Limit"/> reached. A warm-up with a minimum time
/// also waits for this, so that a case measures the optimized code its path ends up with, not the tiering on the way.
/// </summary>
/// <remarks>
/// On two cores with both pinned threads spinning, the runtime's background compiler shares a core with one of them, and
/// a path's hot methods were still at tier 0 or instrumented after a fixed 400 ms warm-up (docs/benchmarks-notes.md,
/// fifteenth round). Call <see cref="IsSettled"/> on every warm-up round trip: it reads a counter and compares times.
/// </remarks>
internal sealed class JitSettle
{
    /// <summary>How long no method may be compiled before the code counts as settled: past the runtime's tiering delay (100 ms).</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest a warm-up waits for the compiler, from the first look: a process that never stops compiling still gets measured.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private readonly Func<long> _compiledCount;
    private readonly long _quietTicks;
    private readonly long _limitTicks;
    private long _first = long.MinValue;
    private long _count;
    private long _since;

    /// <summary>The process's compiled-method count (<see cref="JitInfo.GetCompiledMethodCount"/>), what the default watches.</summary>
    public static readonly Func<long> CompiledMethods = static () => JitInfo.GetCompiledMethodCount();

    /// <summary>Watches <see cref="CompiledMethods"/> with <see cref="Quiet"/> and <see cref="Limit"/>.</summary>
    public JitSettle()
        : this(CompiledMethods, Quiet, Limit)
    {
    }

    /// <summary>Watches <paramref name="compiledCount"/> (tests give their own) with its own quiet time and limit.</summary>
    internal JitSettle(Func<long> compiledCount, TimeSpan quiet, TimeSpan limit)
    {
        _compiledCount = compiledCount;
        _quietTicks = (long)(quiet.TotalSeconds * Stopwatch.Frequency);
        _limitTicks = (long)(limit.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>True once nothing was compiled for <see cref="Quiet"/> up to <paramref name="now"/> (Stopwatch ticks), or <see cref="Limit"/> after the first call.</summary>
    public bool IsSettled(long now)
    {
        long count = _compiledCount();
        if (_first == long.MinValue)
        {
            _first = now;
            _count = count;
            _since = now;
            return false;
        }
        if (count != _count)
        {
            _count = count;
            _since = now;
        }
        return now - _since >= _quietTicks || now - _first >= _limitTicks;
    }
}
