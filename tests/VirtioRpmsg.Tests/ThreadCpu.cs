namespace VirtioRpmsg.Tests;

/// <summary>CPU time of one named thread of this process, from /proc (Linux): to tell a waiting thread from a spinning one.</summary>
internal static class ThreadCpu
{
    private const double MillisecondsPerTick = 10; // USER_HZ is 100 on Linux
    private const int CommLength = 15; // the kernel keeps a thread name's first 15 bytes (TASK_COMM_LEN 16, with the NUL)

    /// <summary>
    /// The CPU time the thread named <paramref name="name"/> used during <paramref name="window"/> (this thread sleeps
    /// meanwhile). The name must be unique in the process: tests run in parallel, and another test's thread of the
    /// same name (every loopback's remote dispatcher is "rpmsg-remote") would be measured instead.
    /// </summary>
    public static TimeSpan Measure(string name, TimeSpan window)
    {
        long before = Ticks(name);
        Thread.Sleep(window); // the measuring window itself, not a wait for anything
        return TimeSpan.FromMilliseconds((Ticks(name) - before) * MillisecondsPerTick);
    }

    // A thread of a test running beside this one may end while the list is read: its entry is gone, and it is not ours.
    private static string? Comm(string task)
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, "comm")).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long Ticks(string name)
    {
        string comm = name.Length > CommLength ? name[..CommLength] : name;
        string? found = null;
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            if (Comm(task) != comm)
                continue;
            if (found is not null)
                throw new InvalidOperationException($"more than one thread named '{comm}' in this process: give the measured one a unique name");
            found = task;
        }
        if (found is null)
            throw new InvalidOperationException($"no thread named '{comm}' in this process");
        string stat = File.ReadAllText(Path.Combine(found, "stat"));
        // Fields after "(comm) ": state is the first, utime and stime the 12th and 13th.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
    }
}
