using System.Diagnostics;

namespace VirtioRpmsg.Tests.Infrastructure;

/// <summary>
/// Bytes the whole process allocates while a loop of messages runs, for "nothing per message" tests whose work crosses
/// threads (a dispatcher, pool threads). A warm-up first, then several measured rounds, each with its duration.
/// <para>
/// The process's own background work (the test host's timers, the thread pool adding and retiring threads) costs bytes
/// per second, not per message: on an idle machine a round of 5,000 messages took up to about 1.3 KB of it; with both
/// cores busy with other work, where a round of parked receives takes seconds, up to about 8 KB (1.6 B/msg), at about
/// 1.7 KB/s. So a round passes under <c>bytesPerMessage</c> per message plus <see cref="NoiseBytesPerSecond"/> for each
/// second it ran, and the verdict is the best round: an allocation per message (or per few messages) shows in every
/// round at any speed, the host's work is allowed for however long the round took.
/// </para>
/// <para>
/// Most of that work is the thread pool starting threads (2-3 KB each: the thread, its execution context, the
/// per-thread state of the runtime and of this library), which it does every half second while pool threads are busy,
/// i.e. on a loaded machine in every round of a path whose readers spin or park on pool threads: then every round
/// could fail by that alone (measured: rounds of 5,000 parked hybrid receives in which the pool grew by 3 to 9 threads
/// took 8-20 KB, 1.6-4.1 B/msg; rounds without growth 0.7-1.2 KB, and 2.4-3.3 KB for 20,000 messages). A round during
/// which the pool's thread count changed is therefore measured again (up to <see cref="MaxRounds"/> rounds in all),
/// and only the rounds without such a change count, when there are any. This cannot hide an allocation per message:
/// it is in every round, with or without a new pool thread.
/// </para>
/// </summary>
internal sealed class ProcessAllocation
{
    /// <summary>What the process's background work may add per second of a round (about twice the rate under load).</summary>
    public const double NoiseBytesPerSecond = 4096;

    /// <summary>Rounds wanted with an unchanged thread pool.</summary>
    public const int CleanRounds = 3;

    /// <summary>Most rounds measured while waiting for <see cref="CleanRounds"/> with an unchanged thread pool.</summary>
    public const int MaxRounds = 9;

    private readonly List<Round> _rounds;
    private readonly int _messages;
    private readonly string? _unit;

    private ProcessAllocation(List<Round> rounds, int messages, string? unit)
    {
        _rounds = rounds;
        _messages = messages;
        _unit = unit;
    }

    private readonly record struct Round(long Bytes, double Seconds, long Units, int PoolThreadsBefore, int PoolThreadsAfter)
    {
        public bool PoolChanged => PoolThreadsBefore != PoolThreadsAfter;
    }

    /// <summary>The fewest units (messages, or what <c>units</c> counted) in any round.</summary>
    public long FewestUnits => _rounds.Min(r => r.Units);

    public static Task<ProcessAllocation> MeasureAsync(Func<int, Task> run, int warmup, int messagesPerRound) =>
        MeasureAsync(run, warmup, messagesPerRound, units: null, unit: null);

    /// <summary>
    /// As above, with the allowance counted per <paramref name="unit"/> instead of per message: <paramref name="units"/>
    /// is read before and after each round (a device's tx-buffer waits, say), so a round's allowance is what it did.
    /// </summary>
    public static async Task<ProcessAllocation> MeasureAsync(Func<int, Task> run, int warmup, int messagesPerRound, Func<long>? units, string? unit)
    {
        await run(warmup);
        var rounds = new List<Round>();
        int clean = 0;
        while (clean < CleanRounds && rounds.Count < MaxRounds)
        {
            int threads = ThreadPool.ThreadCount;
            long unitsBefore = units?.Invoke() ?? 0;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            await run(messagesPerRound);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
            long done = units is null ? messagesPerRound : units() - unitsBefore;
            var round = new Round(bytes, seconds, done, threads, ThreadPool.ThreadCount);
            rounds.Add(round);
            if (!round.PoolChanged)
                clean++;
        }
        return new ProcessAllocation(rounds, messagesPerRound, unit);
    }

    /// <summary>
    /// True when some round stayed under <paramref name="bytesPerMessage"/> per message (or per unit counted) plus the
    /// noise allowance for its duration; only rounds with an unchanged thread pool count, unless every round had a change.
    /// </summary>
    public bool AnyRoundWithin(double bytesPerMessage)
    {
        var counted = _rounds.Any(r => !r.PoolChanged) ? _rounds.Where(r => !r.PoolChanged) : _rounds;
        return counted.Any(r => r.Bytes < r.Units * bytesPerMessage + r.Seconds * NoiseBytesPerSecond);
    }

    public override string ToString() =>
        $"{_messages} messages a round: " + string.Join(", ", _rounds.Select(r =>
            $"{r.Bytes} bytes ({(double)r.Bytes / Math.Max(1, r.Units):F2} B/{_unit ?? "msg"}"
            + (_unit is null ? "" : $", {r.Units} {_unit}s") + $") in {r.Seconds * 1000:F0} ms"
            + (r.PoolChanged ? $" (pool threads {r.PoolThreadsBefore} -> {r.PoolThreadsAfter})" : "")));
}
