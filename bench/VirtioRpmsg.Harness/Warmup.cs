using System.Diagnostics;

namespace VirtioRpmsg.Harness;

/// <summary>
/// When a case's unrecorded warm-up is over: after at least <paramref name="count"/> round trips and
/// <paramref name="minTime"/> from <paramref name="start"/> (Stopwatch ticks) and, with a minimum time, once the compiler
/// is quiet (<see cref="JitSettle"/>). The echo client and the user-path loops share this rule.
/// </summary>
internal sealed class Warmup(int count, TimeSpan minTime, long start)
{
    private readonly long _end = start + (long)(minTime.TotalSeconds * Stopwatch.Frequency);
    private readonly JitSettle? _settle = minTime > TimeSpan.Zero ? new JitSettle() : null;

    /// <summary>
    /// Whether the warm-up is over after <paramref name="done"/> round trips, at <paramref name="now"/>. Ask on every
    /// warm-up round trip: the compiler is looked at first each time, so that its quiet time runs alongside the minimum.
    /// </summary>
    public bool IsOver(int done, long now) => (_settle?.IsSettled(now) ?? true) && done >= count && now >= _end;
}
