namespace VirtioRpmsg.Harness;

/// <summary>What a scenario factory gets: the CPUs each side is pinned to, and how long a new remote warms up.</summary>
public sealed record ScenarioContext(int HostCpu, int RemoteCpu)
{
    /// <summary>
    /// How long a new remote process echoes before its first case (<see cref="CrossProcessEchoScenario"/>). Half a
    /// second left the remote's code part way up its tiers (the runtime compiles in the background on the remote's one
    /// CPU, beside its spinning dispatcher, and nothing on the host sees it): the first busy-poll case after it read
    /// 1.0-1.4 us against a steady 0.5 us; two seconds brought it to the steady figure (docs/benchmarks-notes.md,
    /// thirty-first round). A quick run keeps half a second.
    /// </summary>
    public TimeSpan RemoteWarmup { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The warm-up of a quick run (<see cref="ReportOptions.Quick"/>).</summary>
    public static readonly TimeSpan QuickRemoteWarmup = TimeSpan.FromMilliseconds(500);
}
