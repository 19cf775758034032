using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>Checks the targets of issue 6 against one scenario's results and the baselines of the same run.</summary>
public static class TargetEvaluator
{
    /// <summary>CPU an idle hybrid endpoint may use after its spin budget and still count as "no CPU" (fraction of one core).</summary>
    public const double IdleCpuAllowance = 0.02;

    /// <summary>One check per target, in the order issue 6 lists them.</summary>
    public static IReadOnlyList<TargetCheck> Evaluate(ScenarioResults results, IReadOnlyList<BaselineResult> baselines)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(baselines);
        var checks = new List<TargetCheck>();
        var busy = FindEcho(results, 64, RpmsgWaitStrategy.BusyPoll, 1);
        var interrupt = FindEcho(results, 64, RpmsgWaitStrategy.Interrupt, 1);
        var hybrid = FindEcho(results, 64, RpmsgWaitStrategy.Hybrid, 1);
        var pipelined = Pipelined(results);
        var stream = Stream64(results);

        checks.Add(AtMost("busy-poll echo 64 B: p50 within 6x of the cache-line ping-pong p50",
            P50Ratio(busy, baselines), 6, Units.Ratio));
        checks.Add(AtMost("busy-poll echo 64 B: p50 under 2 us", busy?.Latency.P50, 2_000, Units.Time));
        checks.Add(AtMost("busy-poll echo 64 B: p99.9 under 10 us", busy?.Latency.P999, 10_000, Units.Time));
        checks.Add(AtMost("interrupt echo 64 B: p50 within 1.2x of the cross-core eventfd ping-pong p50",
            P50Ratio(interrupt, baselines), 1.2, Units.Ratio));
        checks.Add(AtMost("hybrid echo 64 B (steady stream): p50 within 2x of busy-poll p50",
            hybrid is null || busy is null ? null : (double)hybrid.Latency.P50 / busy.Latency.P50, 2, Units.Ratio));
        checks.Add(AtMost($"hybrid, idle after the spin budget: no CPU (at most {IdleCpuAllowance:P0} of a core, whole process)",
            hybrid?.IdleCpuFraction, IdleCpuAllowance, v => Units.Decimal(v * 100, "0.0") + " % of a core"));
        checks.Add(AtLeast("pipelined echo (16 in flight), busy-poll: at least 1,000,000 round trips/s",
            pipelined?.RoundTripsPerSecond, 1_000_000, v => Units.Count(v) + " /s"));
        checks.Add(AtLeast("one-way streaming 64 B, busy-poll: at least 2,000,000 messages/s",
            stream?.MessagesPerSecond, 2_000_000, v => Units.Count(v) + " /s"));
        double? allocated = results.Echo.Count + results.Stream.Count == 0
            ? null
            : results.Echo.Select(e => e.AllocatedBytesPerMessage).Concat(results.Stream.Select(s => s.AllocatedBytesPerMessage)).Max();
        checks.Add(Allocation(allocated));
        return checks;
    }

    /// <summary>
    /// The speed targets of issue 15 item 2 that the echo and streaming cases measure (cross-process; the user-path
    /// targets have their own table): busy-poll p50 within 5x of the cache-line ping-pong, interrupt within 1.2x of
    /// eventfd, 1.5 M pipelined round trips/s and 3 M streamed 64 B messages/s, each rate over the whole run and steady.
    /// </summary>
    public static IReadOnlyList<TargetCheck> EvaluateIssue15(ScenarioResults results, IReadOnlyList<BaselineResult> baselines)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(baselines);
        var busy = FindEcho(results, 64, RpmsgWaitStrategy.BusyPoll, 1);
        var interrupt = FindEcho(results, 64, RpmsgWaitStrategy.Interrupt, 1);
        var pipelined = Pipelined(results);
        var stream = Stream64(results);
        static string PerSecond(double v) => Units.Count(v) + " /s";
        return
        [
            AtMost("busy-poll echo 64 B: p50 within 5x of the cache-line ping-pong p50", P50Ratio(busy, baselines), 5, Units.Ratio),
            AtMost("interrupt echo 64 B: p50 within 1.2x of the cross-core eventfd ping-pong p50", P50Ratio(interrupt, baselines), 1.2, Units.Ratio),
            AtLeast("pipelined echo (16 in flight): at least 1,500,000 round trips/s, whole run", pipelined?.RoundTripsPerSecond, 1_500_000, PerSecond),
            AtLeast("pipelined echo (16 in flight): at least 1,500,000 round trips/s, steady", pipelined?.SteadyRoundTripsPerSecond, 1_500_000, PerSecond),
            AtLeast("one-way streaming 64 B: at least 3,000,000 messages/s, whole run", stream?.MessagesPerSecond, 3_000_000, PerSecond),
            AtLeast("one-way streaming 64 B: at least 3,000,000 messages/s, steady", stream?.SteadyMessagesPerSecond, 3_000_000, PerSecond),
        ];
    }

    // To the baseline probe around the case when there is one (BaselineRatio.For), else the run's baseline.
    private static double? P50Ratio(EchoResult? echo, IReadOnlyList<BaselineResult> baselines) =>
        echo is null ? null : BaselineRatio.For(echo, baselines)?.P50;

    /// <summary>The pipelined (16 in flight) busy-poll echo of a scenario, if it ran.</summary>
    internal static EchoResult? Pipelined(ScenarioResults results) =>
        results.Echo.FirstOrDefault(e => e.Request is { Wait: RpmsgWaitStrategy.BusyPoll, Depth: 16 });

    /// <summary>The 64 B busy-poll streaming case of a scenario, if it ran.</summary>
    internal static StreamResult? Stream64(ScenarioResults results) =>
        results.Stream.FirstOrDefault(s => s.Request is { PayloadSize: 64, Wait: RpmsgWaitStrategy.BusyPoll });

    private static EchoResult? FindEcho(ScenarioResults results, int size, RpmsgWaitStrategy wait, int depth) =>
        results.Echo.FirstOrDefault(e => e.Request.PayloadSize == size && e.Request.Wait == wait && e.Request.Depth == depth);

    private static TargetCheck AtMost(string target, double? measured, double limit, Func<double, string> format)
    {
        if (measured is not { } value)
            return new TargetCheck(target, "-", TargetStatus.NotMeasured, "not measured in this run");
        if (value <= limit)
            return new TargetCheck(target, format(value), TargetStatus.Met, value > 0 ? $"met with {Units.Ratio(limit / value)} to spare" : "met");
        return new TargetCheck(target, format(value), TargetStatus.Missed, $"missed by {Units.Ratio(value / limit)} ({format(value - limit)} over {format(limit)})");
    }

    private static TargetCheck AtLeast(string target, double? measured, double limit, Func<double, string> format)
    {
        if (measured is not { } value)
            return new TargetCheck(target, "-", TargetStatus.NotMeasured, "not measured in this run");
        if (value >= limit)
            return new TargetCheck(target, format(value), TargetStatus.Met, $"met with {Units.Ratio(value / limit)} to spare");
        return new TargetCheck(target, format(value), TargetStatus.Missed,
            value > 0 ? $"missed by {Units.Ratio(limit / value)} ({format(limit - value)} short)" : "missed (nothing completed)");
    }

    private static TargetCheck Allocation(double? bytesPerMessage)
    {
        const string target = "0 bytes allocated per message in steady state (worst case of all runs)";
        if (bytesPerMessage is not { } value)
            return new TargetCheck(target, "-", TargetStatus.NotMeasured, "not measured in this run");
        string measured = Units.Decimal(value, "0.00") + " B/msg";
        // Whole-process counters over the recorded phase: a per-message allocation costs at least one
        // object (>= 24 B), so an average under 1 B/msg is background noise (timers, runtime), not the path.
        return value < 1
            ? new TargetCheck(target, measured, TargetStatus.Met, "met")
            : new TargetCheck(target, measured, TargetStatus.Missed, $"missed by {measured}");
    }
}
