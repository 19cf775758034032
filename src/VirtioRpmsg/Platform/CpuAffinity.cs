using System.Globalization;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Pins threads and processes to one CPU (Linux sched_setaffinity). Used for dispatcher threads and
/// benchmarks: on a virtual machine a cross-core wake-up costs far more than a same-core one, so where
/// each side runs decides the latency and must be chosen (and reported), not left to the scheduler.
/// </summary>
public static class CpuAffinity
{
    /// <summary>Logical CPUs this process may run on now.</summary>
    public static int AvailableCpuCount
    {
        get
        {
            int r = Native.AffinityCount();
            NativeCallException.ThrowIfError(r, "sched_getaffinity", "current thread");
            return r;
        }
    }

    /// <summary>The logical CPU the calling thread runs on at this instant.</summary>
    public static int GetCurrentCpu()
    {
        int r = Native.GetCurrentCpu();
        NativeCallException.ThrowIfError(r, "sched_getcpu", "current thread");
        return r;
    }

    /// <summary>Pins the calling OS thread to <paramref name="cpu"/> (threads it creates later inherit the pin).</summary>
    /// <exception cref="NativeCallException">The CPU does not exist or is not allowed (EINVAL), or the call is refused.</exception>
    public static void PinCurrentThread(int cpu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cpu);
        NativeCallException.ThrowIfError(Native.PinCurrentThread(cpu), "sched_setaffinity", "cpu " + cpu.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Lets the calling thread run on every CPU again.</summary>
    public static void UnpinCurrentThread() =>
        NativeCallException.ThrowIfError(Native.UnpinCurrentThread(), "sched_setaffinity", "all cpus");

    /// <summary>
    /// Pins every thread the process <paramref name="processId"/> has now to <paramref name="cpu"/>
    /// (threads it creates later inherit the pin of their creator).
    /// </summary>
    /// <exception cref="NativeCallException">The process is gone (ESRCH/ENOENT), the CPU is invalid, or the call is refused.</exception>
    public static void PinProcess(int processId, int cpu)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        ArgumentOutOfRangeException.ThrowIfNegative(cpu);
        string tasks = $"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/task";
        string[] threads;
        try
        {
            threads = Directory.GetDirectories(tasks);
        }
        catch (DirectoryNotFoundException)
        {
            throw new NativeCallException("sched_setaffinity", "process " + processId.ToString(CultureInfo.InvariantCulture), Errno.ENOENT);
        }
        foreach (string thread in threads)
        {
            if (!int.TryParse(Path.GetFileName(thread), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
                continue;
            int r = Native.PinThread(tid, cpu);
            // A thread that exited between the listing and the call is no longer ours to pin.
            if (r == -Errno.ESRCH)
                continue;
            NativeCallException.ThrowIfError(r, "sched_setaffinity", $"process {processId} thread {tid} to cpu {cpu}");
        }
    }
}
