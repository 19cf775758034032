using System.Diagnostics;
using System.Globalization;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Runs the C baseline (vrpmsg-pingpong, built from bench/baseline/pingpong.c next to this assembly)
/// and parses its output lines: <c>metric=NAME cpus=A,B count=N ... p50=.. p90=.. p99=.. p999=.. max=.. mean=..</c>.
/// </summary>
public static class BaselineRunner
{
    /// <summary>The program's file name.</summary>
    public const string ProgramName = "vrpmsg-pingpong";

    /// <summary>Where the program is expected: next to the harness assembly.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, ProgramName);

    /// <summary>
    /// Runs the baseline with <paramref name="iterations"/> recorded round trips per metric, the measuring
    /// side on <paramref name="cpuA"/> and the echo side on <paramref name="cpuB"/>. Killed and reported
    /// as a <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public static IReadOnlyList<BaselineResult> Run(int iterations, int warmup, int cpuA, int cpuB, TimeSpan timeout, string? path = null)
    {
        path ??= DefaultPath;
        if (!File.Exists(path))
            throw new FileNotFoundException($"C baseline '{path}' not found; it is built by the VirtioRpmsg.Harness project (needs cc)", path);
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-n", Str(iterations), "-w", Str(warmup), "-a", Str(cpuA), "-b", Str(cpuB), "-t", Str((int)Math.Ceiling(timeout.TotalSeconds)) })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start '{path}'");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout + TimeSpan.FromSeconds(5)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"C baseline '{path}' did not finish within {timeout.TotalSeconds:F0} s");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"C baseline '{path}' failed with exit code {process.ExitCode}: {stderr.Result.Trim()}");
        return Parse(stdout.Result);
    }

    /// <summary>Parses the baseline's output; '#' lines are comments.</summary>
    /// <exception cref="FormatException">A metric line lacks a field or has a non-numeric value (the message quotes the line).</exception>
    public static IReadOnlyList<BaselineResult> Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var results = new List<BaselineResult>();
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                if (eq <= 0)
                    throw new FormatException($"baseline output field '{part}' is not key=value in line '{line}'");
                fields[part[..eq]] = part[(eq + 1)..];
            }
            string metric = Field(fields, "metric", line);
            string[] cpus = Field(fields, "cpus", line).Split(',');
            if (cpus.Length != 2)
                throw new FormatException($"baseline output cpus '{fields["cpus"]}' is not A,B in line '{line}'");
            var latency = new LatencySummary(
                Number(fields, "count", line), Number(fields, "p50", line), Number(fields, "p90", line),
                Number(fields, "p99", line), Number(fields, "p999", line), Number(fields, "max", line),
                double.Parse(Field(fields, "mean", line), NumberStyles.Float, CultureInfo.InvariantCulture));
            results.Add(new BaselineResult(metric, Int(cpus[0], "cpus", line), Int(cpus[1], "cpus", line), latency));
        }
        return results;
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Field(Dictionary<string, string> fields, string key, string line) =>
        fields.TryGetValue(key, out string? value) ? value : throw new FormatException($"baseline output lacks '{key}=' in line '{line}'");

    private static long Number(Dictionary<string, string> fields, string key, string line)
    {
        string value = Field(fields, key, line);
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw new FormatException($"baseline output {key} '{value}' is not a number in line '{line}'");
    }

    private static int Int(string value, string key, string line) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? n
            : throw new FormatException($"baseline output {key} '{value}' is not a number in line '{line}'");
}
