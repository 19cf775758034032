namespace VirtioRpmsg.Harness;

/// <summary>What a scenario factory gets: the CPUs each side is pinned to.</summary>
public sealed record ScenarioContext(int HostCpu, int RemoteCpu);
