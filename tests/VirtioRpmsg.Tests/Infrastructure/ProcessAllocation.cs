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
/// </summary>
internal sealed class ProcessAllocation
{
    /// <summary>What the process's background work may add per second of a round (about twice the rate under load).</summary>
    public const double NoiseBytesPerSecond = 4096;

    private readonly (long Bytes, double Seconds)[] _rounds;
    private readonly int _messages;

    private ProcessAllocation((long, double)[] rounds, int messages)
    {
        _rounds = rounds;
        _messages = messages;
    }

    public static async Task<ProcessAllocation> MeasureAsync(Func<int, Task> run, int warmup, int messagesPerRound)
    {
        await run(warmup);
        var measured = new (long, double)[3];
        for (int round = 0; round < measured.Length; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            await run(messagesPerRound);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            measured[round] = (GC.GetTotalAllocatedBytes(precise: true) - before, seconds);
        }
        return new ProcessAllocation(measured, messagesPerRound);
    }

    /// <summary>True when some round stayed under <paramref name="bytesPerMessage"/> per message plus the noise allowance for its duration.</summary>
    public bool AnyRoundWithin(double bytesPerMessage) =>
        _rounds.Any(r => r.Bytes < _messages * bytesPerMessage + r.Seconds * NoiseBytesPerSecond);

    public override string ToString() =>
        $"{_messages} messages a round: " + string.Join(", ", _rounds.Select(r =>
            $"{r.Bytes} bytes ({(double)r.Bytes / _messages:F2} B/msg) in {r.Seconds * 1000:F0} ms"));
}
