namespace VirtioRpmsg.Harness;

/// <summary>What one echo measurement produced.</summary>
/// <param name="Request">What was measured.</param>
/// <param name="Latency">Round-trip latency over the recorded round trips.</param>
/// <param name="Curve">The percentile curve, for the plot.</param>
/// <param name="RoundTripsPerSecond">Completed round trips per second over the recorded phase.</param>
/// <param name="AllocatedBytesPerMessage">Bytes allocated in the process per round trip in the recorded phase.</param>
/// <param name="IdleCpuFraction">CPU the process used while idle after the run (1.0 = one core), when measured.</param>
/// <param name="SteadyRoundTripsPerSecond">The median rate over windows of replies (pipelined cases), when measured.</param>
/// <param name="Probe">The C baseline just before and after the case, when the runner measured it.</param>
public sealed record EchoResult(
    EchoRequest Request,
    LatencySummary Latency,
    IReadOnlyList<PercentilePoint> Curve,
    double RoundTripsPerSecond,
    double AllocatedBytesPerMessage,
    double? IdleCpuFraction = null,
    double? SteadyRoundTripsPerSecond = null,
    PlacementProbe? Probe = null);
