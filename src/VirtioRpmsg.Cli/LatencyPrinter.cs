using System.Diagnostics;
using System.Globalization;
using System.Text;
using HdrHistogram;

namespace VirtioRpmsg.Cli;

/// <summary>Prints a round-trip histogram (ticks) as a percentile table and a text histogram with power-of-two buckets.</summary>
internal static class LatencyPrinter
{
    private const int BarWidth = 40;

    public static readonly (string Name, double Percentile)[] Percentiles = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)];

    public static void PercentileTable(LongHistogram histogram, TextWriter output)
    {
        output.WriteLine("percentile  round trip (us)");
        foreach (var (name, percentile) in Percentiles)
            output.WriteLine($"{name,-10}  {EchoLoop.Microseconds(histogram.GetValueAtPercentile(percentile)),15}");
        output.WriteLine($"{"max",-10}  {EchoLoop.Microseconds(histogram.GetMaxValue()),15}");
    }

    /// <summary>One row per power-of-two range of microseconds from the fastest to the slowest round trip.</summary>
    public static void Histogram(LongHistogram histogram, TextWriter output)
    {
        long total = histogram.TotalCount;
        if (total == 0)
            return;
        // Bucket i holds round trips of [2^i, 2^(i+1)) microseconds (bucket 0 also everything below 1 us).
        var buckets = new long[64];
        int lowest = int.MaxValue, highest = 0;
        foreach (var value in histogram.RecordedValues())
        {
            double us = value.ValueIteratedTo * 1e6 / Stopwatch.Frequency;
            int bucket = us < 1 ? 0 : Math.Min(63, (int)Math.Floor(Math.Log2(us)));
            buckets[bucket] += value.CountAtValueIteratedTo;
            lowest = Math.Min(lowest, bucket);
            highest = Math.Max(highest, bucket);
        }
        long most = buckets.Max();
        output.WriteLine("histogram (us):");
        for (int i = lowest; i <= highest; i++)
        {
            string range = string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? 0 : 1L << i),7} - {1L << (i + 1),-7}");
            int bar = (int)Math.Ceiling(buckets[i] * (double)BarWidth / most);
            var line = new StringBuilder(range).Append(" |").Append('#', bar).Append(' ', BarWidth - bar + 1);
            line.Append(string.Create(CultureInfo.InvariantCulture, $"{buckets[i],10} {buckets[i] * 100.0 / total,6:0.0}%"));
            output.WriteLine(line.ToString());
        }
    }
}
