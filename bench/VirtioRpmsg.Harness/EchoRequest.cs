using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One echo-latency measurement: <see cref="Count"/> round trips of <see cref="PayloadSize"/> bytes
/// (after <see cref="Warmup"/> unrecorded ones) with <see cref="Depth"/> requests in flight, both sides
/// waiting with <see cref="Wait"/>.
/// </summary>
public sealed record EchoRequest(int PayloadSize, RpmsgWaitStrategy Wait, int Count, int Depth = 1, int Warmup = 1000)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field and value when a field is out of range.</summary>
    public void Validate()
    {
        if (PayloadSize < 1 || PayloadSize > 496)
            throw new ArgumentOutOfRangeException(nameof(PayloadSize), PayloadSize, "echo payload size must be 1..496 bytes");
        if (Count < 1)
            throw new ArgumentOutOfRangeException(nameof(Count), Count, "echo count must be at least 1");
        if (Depth < 1 || Depth > 128)
            throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "echo depth must be 1..128");
        if (Warmup < 0)
            throw new ArgumentOutOfRangeException(nameof(Warmup), Warmup, "echo warm-up must not be negative");
        if (Wait == RpmsgWaitStrategy.CallerPoll)
            throw new ArgumentOutOfRangeException(nameof(Wait), Wait, "echo scenarios measure the dispatcher wait strategies (interrupt, busy-poll, hybrid)");
    }

    /// <summary>A short label, for example "64 B busy-poll x16".</summary>
    public string Label => $"{PayloadSize} B {WaitNames.Of(Wait)}{(Depth > 1 ? $" x{Depth}" : "")}";
}
