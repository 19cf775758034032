using System.Globalization;
using System.Text;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The "User paths" section of docs/benchmarks.md: every receive path in every wait mode, as ratios to the callback path and to the C baselines of the same run.</summary>
public static class UserPathReportWriter
{
    /// <summary>Target: a user path's p50 at most this many times the callback path's, in the same wait mode.</summary>
    public const double CallbackTarget = 1.3;

    /// <summary>Target: hybrid p50 at most this many times busy-poll's, per path.</summary>
    public const double HybridTarget = 1.2;

    /// <summary>Target: an application waiting in Receive under hybrid uses less than this share of a core.</summary>
    public const double IdleTarget = 0.02;

    /// <summary>Appends the section (nothing when <paramref name="report"/> has no user-path results).</summary>
    public static void Render(StringBuilder md, BenchmarkReport report)
    {
        ArgumentNullException.ThrowIfNull(md);
        ArgumentNullException.ThrowIfNull(report);
        var results = report.UserPaths;
        if (results.Count == 0)
            return;
        md.AppendLine("## User paths (cross-process, 64 B, one round trip at a time)");
        md.AppendLine();
        md.AppendLine("What applications write, side by side: a queue endpoint read with `Receive` or `await ReceiveAsync`,");
        md.AppendLine("`RpmsgStream` Write/Read, `RpmsgDuplexPipe` WriteAsync/ReadAsync, zero-copy both ways (\"ZeroCopy\": a zero-copy receive");
        md.AppendLine("handler reads the echo in place with `Open` and writes the next request into a tx buffer from `TryGetTxBuffer`), and the receive callback on the");
        md.AppendLine("dispatcher thread (the reference). Caller-poll (`CallerPoll`, no dispatcher thread) has the application's own");
        md.AppendLine("loop instead, `TryReceive` between `Poll` calls (\"Poll\"), and its callback runs inside a polling thread's `Poll`; its remote");
        md.AppendLine("busy-polls. Each wait mode runs over a fresh remote process; the application thread");
        md.AppendLine("is pinned to the host's CPU (so is a pool thread an async loop resumes on), and so is the host's dispatcher");
        md.AppendLine("thread in interrupt mode (the remote's CPU stands for a remote processor). The cases of a mode take turns, and so do");
        md.AppendLine($"busy-poll's and hybrid's (each over its remote, one idle while the other runs): each runs in {CrossProcessEchoScenario.UserPathRounds} blocks of an equal share of");
        md.AppendLine("its round trips, path after path, mode after mode, round after round, so that a ratio compares cases over");
        md.AppendLine($"the same stretch of time (the VM's placement, wake-up cost and speed move within seconds; a hybrid block waits {CrossProcessEchoScenario.BusyPollQuiet.TotalMilliseconds:F0} ms for busy-poll's spin to end). Each path's first block warms up");
        md.AppendLine($"for at least {UserPathRun.MinWarmup.TotalMilliseconds:F0} ms, and until the process has compiled nothing for {JitSettle.Quiet.TotalMilliseconds:F0} ms or {JitSettle.Limit.TotalSeconds:F0} s have passed (the runtime's tiered compilation). \"x callback\" divides by the callback path's figure in the same mode; \"x C\" by the");
        md.AppendLine("baseline (busy-poll, hybrid and caller-poll: cache-line ping-pong; interrupt: eventfd ping-pong) of the faster of the short probes run around the case,");
        md.AppendLine("or of the run's opening baseline without them. \"C p50 before / after\": the probes before its first block and after its group's last, \"(moved)\" when the vCPU");
        md.AppendLine("placement changed during it; a path and its callback on different placements compare different machines (a target");
        md.AppendLine("missed that way still counts as missed, and the target line names both placements).");
        md.AppendLine("B/msg: bytes allocated by the whole host process per round trip, measured steady state, in the case's block that allocated "
            + "least (a one-off in the process, a thread-pool thread starting say, lands in one block; an allocation per message in all).");
        md.AppendLine();
        md.AppendLine("| Path | Wait | p50 | p99 | p50 x callback | p50 x C | C p50 before / after | p50 hybrid x busy-poll | B/msg |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            if (r.Failure is not null)
            {
                md.AppendLine($"| {r.Path} | {WaitNames.Of(r.Wait)} | did not finish: {r.Failure.Replace('|', '/')} | | | | | | |");
                continue;
            }
            var callback = Find(results, UserPath.Callback, r.Wait);
            string toCallback = callback is { Failure: null, Latency.P50: > 0 } c ? Units.Ratio((double)r.Latency.P50 / c.Latency.P50) : "-";
            string metric = BaselineRatio.MetricFor(r.Wait);
            var baseline = PlacementProbe.BaselineFor(r.Probe, metric, report.Baselines);
            string toC = baseline is { Latency.P50: > 0 } b ? Units.Ratio((double)r.Latency.P50 / b.Latency.P50) : "-";
            string probe = r.Probe?.Describe(metric) ?? "-";
            string hybrid = r.Wait == RpmsgWaitStrategy.Hybrid && Find(results, r.Path, RpmsgWaitStrategy.BusyPoll) is { Failure: null, Latency.P50: > 0 } poll
                ? Units.Ratio((double)r.Latency.P50 / poll.Latency.P50)
                : "";
            md.AppendLine(Invariant($"| {r.Path} | {WaitNames.Of(r.Wait)} | {Units.Time(r.Latency.P50)} | {Units.Time(r.Latency.P99)} | {toCallback} | {toC} | {probe} | {hybrid} | {Units.Decimal(r.AllocatedBytesPerMessage, "0.00")} |"));
        }
        md.AppendLine();
        foreach (var r in results.Where(r => r.IdleCpu is not null))
            md.AppendLine(Invariant($"Idle: the host process used {r.IdleCpu * 100:0.0} % of a core while an application thread waited in `Receive` (hybrid) with nothing arriving (target < {IdleTarget * 100:0} %)."));
        md.AppendLine();
        md.AppendLine("| Target | Met |");
        md.AppendLine("|---|---|");
        md.AppendLine(Invariant($"| every user path's p50 within {CallbackTarget}x of the callback path, per wait mode | {MetRatio(results, r => r.Path != UserPath.Callback, r => Find(results, UserPath.Callback, r.Wait), CallbackTarget)} |"));
        md.AppendLine(Invariant($"| hybrid p50 within {HybridTarget}x of busy-poll, per path | {MetRatio(results, r => r.Wait == RpmsgWaitStrategy.Hybrid, r => Find(results, r.Path, RpmsgWaitStrategy.BusyPoll), HybridTarget)} |"));
        md.AppendLine(Invariant($"| idle in hybrid Receive under {IdleTarget * 100:0} % of a core | {Met(results, r => r.IdleCpu is not null, r => r.IdleCpu < IdleTarget)} |"));
        md.AppendLine(Invariant($"| 0 B allocated per message (under 1 B/msg in the block that allocated least) | {Met(results, _ => true, r => r.Failure is null && r.AllocatedBytesPerMessage < 1)} |"));
        md.AppendLine();
    }

    private static UserPathResult? Find(IReadOnlyList<UserPathResult> results, UserPath path, RpmsgWaitStrategy wait) =>
        results.FirstOrDefault(r => r.Path == path && r.Wait == wait);

    private static double Ratio(UserPathResult r, UserPathResult? reference) =>
        r.Failure is null && reference is { Failure: null, Latency.P50: > 0 } ? (double)r.Latency.P50 / reference.Latency.P50 : double.PositiveInfinity;

    // A ratio target: each case divided by its reference case; a miss between two placements says so (still a miss).
    private static string MetRatio(IReadOnlyList<UserPathResult> results, Func<UserPathResult, bool> applies,
        Func<UserPathResult, UserPathResult?> reference, double limit) =>
        Met(results, applies, r => Ratio(r, reference(r)) <= limit, reference);

    private static string Met(IReadOnlyList<UserPathResult> results, Func<UserPathResult, bool> applies, Func<UserPathResult, bool> met,
        Func<UserPathResult, UserPathResult?>? reference = null)
    {
        var cases = results.Where(applies).ToArray();
        if (cases.Length == 0)
            return "not measured";
        var missed = cases.Where(r => !met(r)).Select(r => $"{r.Path} {WaitNames.Of(r.Wait)}{PlacementNote(r, reference?.Invoke(r))}").ToArray();
        return missed.Length == 0 ? $"yes ({cases.Length} of {cases.Length})" : $"**no**: {cases.Length - missed.Length} of {cases.Length}; missed: {string.Join(", ", missed)}";
    }

    private static string PlacementNote(UserPathResult r, UserPathResult? reference)
    {
        string metric = BaselineRatio.MetricFor(r.Wait);
        return reference is not null && PlacementProbe.Differ(r.Probe, reference.Probe, metric)
            ? $" (other placement than {reference.Path} {WaitNames.Of(reference.Wait)}: C p50 {r.Probe!.Describe(metric)} against {reference.Probe!.Describe(metric)})"
            : "";
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
