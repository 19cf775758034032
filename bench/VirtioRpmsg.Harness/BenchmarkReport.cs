namespace VirtioRpmsg.Harness;

/// <summary>One report run: the machine, the command, the C baselines and every scenario's results, all from the same run.</summary>
public sealed record BenchmarkReport(
    MachineInfo Machine,
    string Command,
    DateTimeOffset Started,
    TimeSpan Duration,
    bool Quick,
    int HostCpu,
    int RemoteCpu,
    IReadOnlyList<BaselineResult> Baselines,
    IReadOnlyList<ScenarioResults> Scenarios)
{
    /// <summary>Every user-facing receive path in every wait mode (cross-process); empty when the cross-process scenario did not run.</summary>
    public IReadOnlyList<UserPathResult> UserPaths { get; init; } = [];
}
