namespace VirtioRpmsg;

/// <summary>
/// Why a queue or a device stopped trusting its peer (or its mapping): one structured record from
/// the ring up. The layer that detected it, the rule that was broken, the field and the value read,
/// and a message for people. The first fault is kept (sticky) until the queue or device is reset.
/// </summary>
/// <param name="Layer">The layer whose rule was broken.</param>
/// <param name="Rule">The rule.</param>
/// <param name="Field">The shared-memory field (or setting) that broke it, e.g. <c>used.ring[3].id</c>.</param>
/// <param name="Value">The value read from that field (0 where the rule has no single value).</param>
/// <param name="Message">A sentence naming the source, the field and the value.</param>
public sealed record Fault(FaultLayer Layer, FaultRule Rule, string Field, ulong Value, string Message)
{
    /// <summary>The message.</summary>
    public override string ToString() => Message;
}
