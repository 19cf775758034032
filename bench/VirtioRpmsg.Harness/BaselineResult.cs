namespace VirtioRpmsg.Harness;

/// <summary>One raw-limit measurement of the C baseline (bench/baseline/pingpong.c).</summary>
/// <param name="Metric">spin_cross, eventfd_cross, eventfd_same or ring_eventfd_cross (see <see cref="BaselineMetrics"/>).</param>
/// <param name="CpuA">The measuring process's CPU.</param>
/// <param name="CpuB">The echo process's CPU.</param>
/// <param name="Latency">Round-trip latency.</param>
public sealed record BaselineResult(string Metric, int CpuA, int CpuB, LatencySummary Latency);
