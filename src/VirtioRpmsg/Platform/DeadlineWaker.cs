using System.Diagnostics;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Ends blocking reads (<see cref="DescriptorWaiter.ReadBlocking"/>) at their deadlines: read() has no timeout, so one
/// background thread per process wakes each waiter whose deadline has passed. Its own thread, not a thread-pool timer:
/// an application that blocks every pool thread must not stretch the dispatcher's idle re-checks.
/// </summary>
/// <remarks>
/// Registering costs a lock and a list entry; the thread is signalled only when a deadline comes before the one it
/// sleeps until, which a dispatcher waiting the same interval again and again never does (it wakes about once per
/// interval, finds the next deadline later and sleeps again).
/// </remarks>
internal static class DeadlineWaker
{
    private static readonly object s_lock = new();
    private static readonly List<DescriptorWaiter> s_waiting = [];
    private static Thread? s_thread;
    // Stopwatch ticks the thread sleeps until (long.MaxValue: until signalled); under s_lock.
    private static long s_sleepingUntil = long.MaxValue;

    /// <summary>Wakes <paramref name="waiter"/> once <paramref name="deadline"/> (Stopwatch ticks) has passed, unless removed first.</summary>
    internal static void Add(DescriptorWaiter waiter, long deadline)
    {
        lock (s_lock)
        {
            waiter.WakeAt = deadline;
            s_waiting.Add(waiter);
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "vrpmsg-deadlines" };
                s_thread.Start();
            }
            else if (deadline < s_sleepingUntil)
            {
                Monitor.Pulse(s_lock);
            }
        }
    }

    /// <summary>
    /// Stops watching <paramref name="waiter"/>; false when its deadline's wake-up was made already. Wake-ups are made
    /// under the lock, so once this returns none of this waiter's is under way: what it wrote is in the counter.
    /// </summary>
    internal static bool Remove(DescriptorWaiter waiter)
    {
        lock (s_lock)
            return s_waiting.Remove(waiter);
    }

    private static void Run()
    {
        lock (s_lock)
        {
            while (true)
            {
                long now = Stopwatch.GetTimestamp();
                long next = long.MaxValue;
                for (int i = s_waiting.Count - 1; i >= 0; i--)
                {
                    var waiter = s_waiting[i];
                    if (waiter.WakeAt <= now)
                    {
                        s_waiting.RemoveAt(i);
                        waiter.Wake();
                    }
                    else if (waiter.WakeAt < next)
                    {
                        next = waiter.WakeAt;
                    }
                }
                s_sleepingUntil = next;
                // The guarded conversion: a deadline months away must not overflow into a negative wait, which
                // Monitor.Wait throws on (on this thread, an unhandled exception that ends the process).
                int milliseconds = next == long.MaxValue ? Timeout.Infinite : Deadline.MillisecondsUntil(next, now);
                Monitor.Wait(s_lock, milliseconds);
            }
        }
    }
}
