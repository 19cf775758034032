using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>One-way streaming: the host sends <see cref="Count"/> messages of <see cref="PayloadSize"/> bytes as fast as it can.</summary>
public sealed record StreamRequest(int PayloadSize, RpmsgWaitStrategy Wait, int Count)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field and value when a field is out of range.</summary>
    public void Validate()
    {
        if (PayloadSize < 1 || PayloadSize > 496)
            throw new ArgumentOutOfRangeException(nameof(PayloadSize), PayloadSize, "stream payload size must be 1..496 bytes");
        if (Count < 1)
            throw new ArgumentOutOfRangeException(nameof(Count), Count, "stream count must be at least 1");
        if (Wait == RpmsgWaitStrategy.CallerPoll)
            throw new ArgumentOutOfRangeException(nameof(Wait), Wait, "stream scenarios measure the dispatcher wait strategies (interrupt, busy-poll, hybrid)");
    }

    /// <summary>A short label, for example "64 B busy-poll".</summary>
    public string Label => $"{PayloadSize} B {WaitNames.Of(Wait)}";
}
