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
        RequestValidation.PayloadCountAndWait("echo", PayloadSize, Count, Wait);
        if (Depth < 1 || Depth > 128)
            throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "echo depth must be 1..128");
        if (Warmup < 0)
            throw new ArgumentOutOfRangeException(nameof(Warmup), Warmup, "echo warm-up must not be negative");
    }

    /// <summary>A short label, for example "64 B busy-poll x16".</summary>
    public string Label => $"{PayloadSize} B {WaitNames.Of(Wait)}{(Depth > 1 ? $" x{Depth}" : "")}";
}
