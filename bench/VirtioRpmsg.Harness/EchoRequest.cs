using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One echo-latency measurement: <see cref="Count"/> round trips of <see cref="PayloadSize"/> bytes
/// (after <see cref="Warmup"/> unrecorded ones, and for at least <see cref="MinWarmupTime"/>) with <see cref="Depth"/>
/// requests in flight, both sides waiting with <see cref="Wait"/>.
/// </summary>
public sealed record EchoRequest(int PayloadSize, RpmsgWaitStrategy Wait, int Count, int Depth = 1, int Warmup = 1000)
{
    /// <summary>
    /// The least time the unrecorded round trips take together (zero: <see cref="Warmup"/> round trips only). A
    /// case's own shape (depth, size) can run code the session's warm-up left in tier 0: the pipelined case's first
    /// 0.2-0.4 s ran at a third of its rate until the runtime's tiered compilation caught up.
    /// </summary>
    public TimeSpan MinWarmupTime { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field and value when a field is out of range.</summary>
    public void Validate()
    {
        RequestValidation.PayloadCountAndWait("echo", PayloadSize, Count, Wait);
        if (Depth < 1 || Depth > 128)
            throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "echo depth must be 1..128");
        // With fewer round trips than are in flight, the requests already sent when measuring starts would outnumber them.
        if (Count < Depth)
            throw new ArgumentOutOfRangeException(nameof(Count), Count, $"echo count must be at least the depth ({Depth})");
        if (Warmup < 0)
            throw new ArgumentOutOfRangeException(nameof(Warmup), Warmup, "echo warm-up must not be negative");
        if (MinWarmupTime < TimeSpan.Zero || MinWarmupTime > TimeSpan.FromMinutes(1))
            throw new ArgumentOutOfRangeException(nameof(MinWarmupTime), MinWarmupTime, "echo warm-up time must be 0..1 min");
    }

    /// <summary>A short label, for example "64 B busy-poll x16".</summary>
    public string Label => $"{PayloadSize} B {WaitNames.Of(Wait)}{(Depth > 1 ? $" x{Depth}" : "")}";
}
