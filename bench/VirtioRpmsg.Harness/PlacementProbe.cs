namespace VirtioRpmsg.Harness;

/// <summary>
/// A short C baseline run just before and just after one case. On a virtual machine the hypervisor moves the two
/// vCPUs between nearby and distant physical cores, sometimes within a run: the cache-line ping-pong then takes
/// 130-160 ns or 400-560 ns (docs/benchmarks-notes.md). A ratio to the run's opening baseline mixes the two; a ratio
/// to the probe before the case compares the case with the placement it ran on, and the probe after it shows
/// whether that placement held. Where it did not, the case ran partly on each, and its ratios are to the faster of
/// the two probes (<see cref="BaselineFor"/>).
/// </summary>
/// <param name="Before">The baseline metrics measured just before the case.</param>
/// <param name="After">The same, just after it.</param>
public sealed record PlacementProbe(IReadOnlyList<BaselineResult> Before, IReadOnlyList<BaselineResult> After)
{
    /// <summary>A p50 that moved by more than this factor between the two probes counts as a placement change.</summary>
    public const double MovedFactor = 1.5;

    /// <summary>
    /// The baseline a case with <paramref name="probe"/> compares with: the probe's before the case, or, when the
    /// placement moved during the case (<see cref="Moved"/>), the faster of its two probes (the case ran partly on each
    /// placement, so its ratio is the larger one: a case that began far and ended near is not judged against the slower
    /// baseline alone); without a probe, the run's opening <paramref name="baselines"/>. Null when none has
    /// <paramref name="metric"/>.
    /// </summary>
    public static BaselineResult? BaselineFor(PlacementProbe? probe, string metric, IReadOnlyList<BaselineResult> baselines)
    {
        if (probe?.Before.FirstOrDefault(b => b.Metric == metric) is not { } before)
            return baselines.FirstOrDefault(b => b.Metric == metric);
        if (!probe.Moved(metric))
            return before;
        var after = probe.After.First(b => b.Metric == metric); // Moved: both probes have the metric
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
