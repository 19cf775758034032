using VirtioRpmsg.Platform;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// "far-deadline": an eventfd doorbell wait with a long but finite timeout (365 days) on one thread; then,
/// on the main thread, two 150 ms waits in turn, which only the process's deadline thread ("vrpmsg-deadline") can end.
/// The second one cannot even register before that thread has computed its sleep for the 365-day deadline (it holds
/// its lock until then), so "SURVIVED" means that computation went well. Then it rings the first wait: "WOKE".
/// </summary>
internal static class FarDeadlinePeer
{
    public static int Run(string[] args)
    {
        using var local = EventFdDoorbell.Create("far-deadline");
        using var peer = local.CreatePeer();
        var waiter = Task.Factory.StartNew(() => local.Wait(TimeSpan.FromDays(365)), TaskCreationOptions.LongRunning);
        Console.WriteLine("READY");
        // The deadline thread is started by the first timed blocking wait, after it registered: that is the far one.
        while (!DeadlineThreadExists())
            Thread.Yield();
        for (int i = 0; i < 2; i++)
        {
            using var shortOne = EventFdDoorbell.Create("short");
            using var shortPeer = shortOne.CreatePeer();
            if (shortOne.Wait(TimeSpan.FromMilliseconds(150)))
                Console.WriteLine("(spurious ring)");
        }
        Console.WriteLine("SURVIVED");
        peer.Ring();
        Console.WriteLine(waiter.GetAwaiter().GetResult() ? "WOKE" : "TIMEOUT");
        return 0;
    }

    private static bool DeadlineThreadExists()
    {
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == "vrpmsg-deadline")
                    return true;
            }
            catch (IOException)
            {
            }
        }
        return false;
    }
}
