namespace VirtioRpmsg.Harness;

/// <summary>
/// One CLI build measured by <see cref="ColdStartBenchmark"/>: the cold starts (process start to the first verified
/// echo, each in a new process) and the steady-state ping p50 per wait strategy.
/// </summary>
/// <param name="Name">What was measured ("JIT", "NativeAOT").</param>
/// <param name="Command">The command line (executable and leading arguments) that ran the CLI.</param>
/// <param name="ColdStarts">Every recorded cold start, in run order.</param>
/// <param name="SteadyP50">Wait strategy name (the CLI's --wait spelling) to the ping's p50 round trip.</param>
public sealed record ColdStartResult(string Name, IReadOnlyList<string> Command, IReadOnlyList<TimeSpan> ColdStarts, IReadOnlyDictionary<string, TimeSpan> SteadyP50)
{
    /// <summary>The median cold start (the lower middle one for an even count).</summary>
    public TimeSpan MedianColdStart => Sorted()[(ColdStarts.Count - 1) / 2];

    /// <summary>The fastest cold start.</summary>
    public TimeSpan MinColdStart => Sorted()[0];

    /// <summary>The slowest cold start.</summary>
    public TimeSpan MaxColdStart => Sorted()[^1];

    private List<TimeSpan> Sorted()
    {
        if (ColdStarts.Count == 0)
            throw new InvalidOperationException($"'{Name}' has no recorded cold start");
        var sorted = ColdStarts.ToList();
        sorted.Sort();
        return sorted;
    }
}
