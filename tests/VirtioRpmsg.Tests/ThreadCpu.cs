namespace VirtioRpmsg.Tests;

/// <summary>CPU time of one named thread of this process, from /proc (Linux): to tell a waiting thread from a spinning one.</summary>
internal static class ThreadCpu
{
    private const double MillisecondsPerTick = 10; // USER_HZ is 100 on Linux

    /// <summary>The CPU time the thread named <paramref name="name"/> used during <paramref name="window"/> (this thread sleeps meanwhile).</summary>
    public static TimeSpan Measure(string name, TimeSpan window)
    {
        long before = Ticks(name);
        Thread.Sleep(window); // the measuring window itself, not a wait for anything
        return TimeSpan.FromMilliseconds((Ticks(name) - before) * MillisecondsPerTick);
    }

    private static long Ticks(string name)
    {
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != name)
                continue;
            string stat = File.ReadAllText(Path.Combine(task, "stat"));
            // Fields after "(comm) ": state is the first, utime and stime the 12th and 13th.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"no thread named '{name}' in this process");
    }
}
