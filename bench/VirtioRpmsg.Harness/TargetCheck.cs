namespace VirtioRpmsg.Harness;

/// <summary>One target of issue 6 checked against one scenario's figures.</summary>
/// <param name="Target">The target as stated, for example "busy-poll 64 B echo p50 &lt; 2 us".</param>
/// <param name="Measured">The measured figure, formatted.</param>
/// <param name="Status">Met, missed, or not measured.</param>
/// <param name="Margin">By how much it is met or missed, for example "missed by 3.1x".</param>
public sealed record TargetCheck(string Target, string Measured, TargetStatus Status, string Margin);
