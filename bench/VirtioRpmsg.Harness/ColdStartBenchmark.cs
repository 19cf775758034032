using System.Diagnostics;
using System.Globalization;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Cold start of the rpmsg CLI, JIT against NativeAOT (docs/benchmarks.md, "Cold start"): each run starts
/// <c>CLI ping --count 1 --wait interrupt</c> in a new process, which itself starts the simulated remote (the same
/// binary again), and times from just before the process is started to the moment its "verified 1/1" line arrives
/// on the pipe, i.e. process start to the first verified echo, both processes' start-up included. The CLIs run
/// interleaved, so machine load falls on both alike; one unrecorded run each first puts the files in the page
/// cache. Then, in the same run, a steady-state <c>ping</c> per wait strategy gives each CLI's p50.
/// </summary>
public static class ColdStartBenchmark
{
    /// <summary>The wait strategies of the steady-state pings (the CLI's --wait spelling).</summary>
    public static readonly IReadOnlyList<string> SteadyWaits = ["interrupt", "poll"];

    /// <summary>Upper bound for one CLI process; it is killed (with its child) after that.</summary>
    public static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Measures every CLI in <paramref name="clis"/>: <paramref name="runs"/> cold starts each, then one
    /// <paramref name="steadyCount"/>-round-trip ping per wait strategy. Progress lines go to <paramref name="progress"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A CLI run failed, timed out or printed no verified echo (the message says which).</exception>
    public static IReadOnlyList<ColdStartResult> Run(IReadOnlyList<(string Name, IReadOnlyList<string> Command)> clis, int runs, int steadyCount, TextWriter progress,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clis);
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(steadyCount, 1);
        var starts = clis.Select(_ => new List<TimeSpan>()).ToArray();
        for (int run = 0; run <= runs; run++)
        {
            for (int i = 0; i < clis.Count; i++)
            {
                var (name, command) = clis[i];
                var (elapsed, _) = RunPing(command, 1, "interrupt", cancellationToken);
                if (run == 0)
                    continue;
                starts[i].Add(elapsed);
                progress.WriteLine($"cold start {name} {run}/{runs}: {Units.Time(elapsed.Ticks * 100.0)}");
            }
        }
        var results = new List<ColdStartResult>();
        for (int i = 0; i < clis.Count; i++)
        {
            var p50 = new Dictionary<string, TimeSpan>();
            foreach (string wait in SteadyWaits)
            {
                var (_, output) = RunPing(clis[i].Command, steadyCount, wait, cancellationToken);
                p50[wait] = ParseP50(output, clis[i].Name);
                progress.WriteLine($"steady ping {clis[i].Name} --wait {wait}: p50 {Units.Time(p50[wait].Ticks * 100.0)}");
            }
            results.Add(new ColdStartResult(clis[i].Name, clis[i].Command, starts[i], p50));
        }
        return results;
    }

    /// <summary>Runs <c>ping</c> once: the time from start to its "verified" line, and everything it printed.</summary>
    private static (TimeSpan UntilVerified, string Output) RunPing(IReadOnlyList<string> command, int count, string wait, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in command.Skip(1).Concat(["ping", "--count", count.ToString(CultureInfo.InvariantCulture), "--wait", wait]))
            info.ArgumentList.Add(arg);
        string line = string.Join(' ', info.ArgumentList.Prepend(command[0]));
        long started = Stopwatch.GetTimestamp();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start '{line}'");
        try
        {
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            var output = new System.Text.StringBuilder();
            TimeSpan? verified = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(ProcessTimeout);
            // Read line by line so the "verified" line is timed when it arrives, not when the process ends.
            while (process.StandardOutput.ReadLineAsync(deadline.Token).AsTask().GetAwaiter().GetResult() is { } text)
            {
                if (verified is null && text.StartsWith("verified ", StringComparison.Ordinal))
                    verified = Stopwatch.GetElapsedTime(started);
                output.AppendLine(text);
            }
            if (!process.WaitForExit(ProcessTimeout))
                throw new InvalidOperationException($"'{line}' did not exit within {ProcessTimeout.TotalSeconds} s");
            string errors = stderr.GetAwaiter().GetResult().Trim();
            if (process.ExitCode != 0 || verified is null)
                throw new InvalidOperationException($"'{line}' failed (exit code {process.ExitCode}{(verified is null ? ", no verified line" : "")}): {errors}");
            return (verified.Value, output.ToString());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"'{line}' printed nothing more within {ProcessTimeout.TotalSeconds} s");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The p50 row of the ping's percentile table ("p50   12.3", microseconds).</summary>
    public static TimeSpan ParseP50(string output, string name)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (string row in output.Split('\n'))
        {
            string[] cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length == 2 && cells[0] == "p50" && double.TryParse(cells[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double us))
                return TimeSpan.FromTicks((long)Math.Round(us * TimeSpan.TicksPerMillisecond / 1000.0));
        }
        throw new InvalidOperationException($"the ping of '{name}' printed no p50 row");
    }
}
