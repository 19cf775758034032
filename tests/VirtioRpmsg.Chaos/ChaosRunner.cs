using System.Diagnostics;

namespace VirtioRpmsg.Chaos;

/// <summary>Runs chaos seeds over fault classes (round robin) until a seed count or a time budget is used up.</summary>
public static class ChaosRunner
{
    /// <summary>Result of a run.</summary>
    public sealed record Summary(long Runs, TimeSpan Elapsed, IReadOnlyDictionary<ChaosFault, long> PerFault, IReadOnlyList<ChaosOutcome> Failures);

    /// <summary>
    /// Runs seeds <paramref name="firstSeed"/>, <paramref name="firstSeed"/>+1, ... for every class in
    /// <paramref name="faults"/>, stopping after <paramref name="seedsPerFault"/> seeds or when
    /// <paramref name="budget"/> is spent. Failures are collected (up to 100), never thrown.
    /// </summary>
    public static Summary Run(IReadOnlyList<ChaosFault> faults, int firstSeed, long seedsPerFault, TimeSpan budget, Action<ChaosOutcome>? onFailure = null)
    {
        var clock = Stopwatch.StartNew();
        var perFault = faults.ToDictionary(f => f, _ => 0L);
        var failures = new List<ChaosOutcome>();
        long runs = 0;
        for (long i = 0; i < seedsPerFault && clock.Elapsed < budget; i++)
        {
            int seed = unchecked(firstSeed + (int)i);
            foreach (var fault in faults)
            {
                var outcome = ChaosScenario.Run(fault, seed);
                runs++;
                perFault[fault]++;
                if (!outcome.Passed)
                {
                    onFailure?.Invoke(outcome);
                    if (failures.Count < 100)
                        failures.Add(outcome);
                }
            }
        }
        return new Summary(runs, clock.Elapsed, perFault, failures);
    }
}
