namespace VirtioRpmsg.Chaos;

/// <summary>What one seeded chaos run found: the violated invariants (empty when the stack held up) and what the victim reported.</summary>
public sealed class ChaosOutcome(ChaosFault fault, int seed)
{
    private readonly List<string> _violations = [];

    /// <summary>The fault class.</summary>
    public ChaosFault Fault { get; } = fault;

    /// <summary>The seed (re-running the same fault and seed repeats the same injection).</summary>
    public int Seed { get; } = seed;

    /// <summary>Invariants that did not hold.</summary>
    public IReadOnlyList<string> Violations => _violations;

    /// <summary>How the victim reported the fault (broken reason, exception, or counter change).</summary>
    public string? Reported { get; internal set; }

    /// <summary>True when every invariant held.</summary>
    public bool Passed => _violations.Count == 0;

    internal void Violation(string what) => _violations.Add(what);

    internal void Check(bool condition, string what)
    {
        if (!condition)
            _violations.Add(what);
    }

    public override string ToString() =>
        $"{Fault} seed {Seed}: {(Passed ? "ok" : "FAILED")} ({Reported ?? "nothing reported"})" +
        (Passed ? "" : Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", _violations));
}
