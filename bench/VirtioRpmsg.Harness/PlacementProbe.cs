namespace VirtioRpmsg.Harness;

/// <summary>
/// A short C baseline run just before and just after one case. On a virtual machine the hypervisor moves the two
/// vCPUs between nearby and distant physical cores, sometimes within a run: the cache-line ping-pong then takes
/// 130-160 ns or 400-560 ns (docs/benchmarks-notes.md), and the eventfd ping-pong drifts by 10-20 % within a minute.
/// A ratio to the run's opening baseline mixes placements; a ratio to the probes around the case compares the case
/// with the host it ran on. Its ratios are to the faster of the two probes (<see cref="BaselineFor"/>): a case is
/// judged against the best the host did around it, so a target met is met against both probes, not only the slower.
/// </summary>
public sealed record PlacementProbe(IReadOnlyList<BaselineResult> Before, IReadOnlyList<BaselineResult> After)
{
    /// <summary>A p50 that moved by more than this factor between the two probes counts as a placement change.</summary>
    public const double MovedFactor = 1.5;

    /// <summary>
    /// The baseline a case with <paramref name="probe"/> compares with: the faster (by p50) of its probes before and after
    /// the case, so its ratio is the larger of the two (a case between a slow and a fast probe is not judged against the
    /// slow one alone, whether or not the placement <see cref="Moved"/>); the probe before alone when the one after lacks
    /// <paramref name="metric"/>; without a probe, the run's opening <paramref name="baselines"/>. Null when none has
    /// <paramref name="metric"/>.
    /// </summary>
    public static BaselineResult? BaselineFor(PlacementProbe? probe, string metric, IReadOnlyList<BaselineResult> baselines)
    {
        if (probe?.Before.FirstOrDefault(b => b.Metric == metric) is not { } before)
            return baselines.FirstOrDefault(b => b.Metric == metric);
        if (probe.After.FirstOrDefault(b => b.Metric == metric) is not { Latency.P50: > 0 } after)
            return before;
        return after.Latency.P50 < before.Latency.P50 ? after : before;
    }

    /// <summary>The metric's p50 before and after, or null when either probe lacks it.</summary>
    public (long Before, long After)? P50(string metric)
    {
        var before = Before.FirstOrDefault(b => b.Metric == metric);
        var after = After.FirstOrDefault(b => b.Metric == metric);
        return before is null || after is null ? null : (before.Latency.P50, after.Latency.P50);
    }

    /// <summary>True when the metric's p50 differs by more than <see cref="MovedFactor"/> between the two probes.</summary>
    public bool Moved(string metric) => P50(metric) is var (before, after) && before > 0 && after > 0
        && Math.Max(before, after) > MovedFactor * Math.Min(before, after);

    /// <summary>
    /// True when two cases both have probes for <paramref name="metric"/> and did not run on the same placement: the
    /// probes before them differ by more than <see cref="MovedFactor"/>, or either case moved. A ratio of the two
    /// cases then compares placements as much as code paths.
    /// </summary>
    public static bool Differ(PlacementProbe? a, PlacementProbe? b, string metric) =>
        a?.P50(metric) is var (beforeA, _) && b?.P50(metric) is var (beforeB, _) && beforeA > 0 && beforeB > 0
        && (a.Moved(metric) || b.Moved(metric) || Math.Max(beforeA, beforeB) > MovedFactor * Math.Min(beforeA, beforeB));

    /// <summary>"401 ns / 410 ns", with "(moved)" when the placement changed during the case; "-" when not measured.</summary>
    public string Describe(string metric) => P50(metric) is var (before, after)
        ? $"{Units.Time(before)} / {Units.Time(after)}{(Moved(metric) ? " (moved)" : "")}"
        : "-";
}
