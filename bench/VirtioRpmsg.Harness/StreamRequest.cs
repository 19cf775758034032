using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>One-way streaming: the host sends <see cref="Count"/> messages of <see cref="PayloadSize"/> bytes as fast as it can.</summary>
public sealed record StreamRequest(int PayloadSize, RpmsgWaitStrategy Wait, int Count)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field and value when a field is out of range.</summary>
    public void Validate() => RequestValidation.PayloadCountAndWait("stream", PayloadSize, Count, Wait);

    /// <summary>A short label, for example "64 B busy-poll".</summary>
    public string Label => $"{PayloadSize} B {WaitNames.Of(Wait)}";
}
