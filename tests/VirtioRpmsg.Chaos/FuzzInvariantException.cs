namespace VirtioRpmsg.Chaos;

/// <summary>A fuzz target found an input that breaks an invariant (a finding, like a crash).</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);
