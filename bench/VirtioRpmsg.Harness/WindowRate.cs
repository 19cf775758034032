using System.Diagnostics;

namespace VirtioRpmsg.Harness;

/// <summary>
/// The steady-state rate of a run: <see cref="Stopwatch"/> timestamps taken every <see cref="Window"/> messages,
/// the rate of each window, their median. On a shared machine a whole-run rate mostly counts the time slices the
/// pinned threads lost to other processes; the median window is the rate while both sides ran.
/// </summary>
public static class WindowRate
{
    /// <summary>Messages per window.</summary>
    public const int Window = 512;

    /// <summary>Room for the timestamps of a run of <paramref name="messages"/> (one per window, plus the first).</summary>
    public static long[] Stamps(long messages) => new long[messages / Window + 2];

    /// <summary>The median rate (messages per second) over the first <paramref name="count"/> stamps; null with fewer than 2.</summary>
    public static double? Median(long[] stamps, int count)
    {
        ArgumentNullException.ThrowIfNull(stamps);
        count = Math.Min(count, stamps.Length);
        if (count < 2)
            return null;
        var rates = new double[count - 1];
        for (int i = 1; i < count; i++)
        {
            long ticks = Math.Max(1, stamps[i] - stamps[i - 1]);
            rates[i - 1] = Window * (double)Stopwatch.Frequency / ticks;
        }
        Array.Sort(rates);
        int mid = rates.Length / 2;
        return rates.Length % 2 == 1 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
    }
}
