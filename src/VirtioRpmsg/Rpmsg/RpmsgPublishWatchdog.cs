namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// One background thread per process that bounds how long a send from a receive callback can stay unpublished
/// (<see cref="RpmsgDeferredSends"/>) when the callback blocks in the application's own code, for instance on a
/// semaphore that another thread releases once the peer has answered: such a callback would otherwise wait for a
/// message only its own return publishes. Every tick it looks at each device that ever deferred a send, and
/// publishes for one whose callbacks have held sends since its previous look.
/// </summary>
/// <remarks>
/// It costs the data path nothing (the owner only stores an episode number) and wakes once a millisecond while
/// some device defers, every <see cref="IdleTick"/> otherwise; it starts with the first deferred send of the process.
/// </remarks>
internal static class RpmsgPublishWatchdog
{
    /// <summary>The look interval while sends are being deferred.</summary>
    internal static readonly TimeSpan ActiveTick = TimeSpan.FromMilliseconds(1);

    /// <summary>The look interval after a tick with no deferred send anywhere.</summary>
    internal static readonly TimeSpan IdleTick = TimeSpan.FromMilliseconds(10);

    private static readonly object s_lock = new();
    private static RpmsgDeferredSends[] s_watched = [];
    private static Thread? s_thread;

    /// <summary>Starts watching <paramref name="sends"/> (once per device; allocates, so not per message).</summary>
    internal static void Watch(RpmsgDeferredSends sends)
    {
        lock (s_lock)
        {
            if (sends.Watched)
                return;
            Volatile.Write(ref s_watched, [.. s_watched, sends]);
            sends.Watched = true;
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "rpmsg-publish-watchdog" };
                s_thread.Start();
            }
        }
    }

    /// <summary>Stops watching (the device stopped: nothing of it may be published any more).</summary>
    internal static void Unwatch(RpmsgDeferredSends sends)
    {
        lock (s_lock)
        {
            if (!sends.Watched)
                return;
            Volatile.Write(ref s_watched, Array.FindAll(s_watched, s => !ReferenceEquals(s, sends)));
            sends.Watched = false;
        }
    }

    private static void Run()
    {
        bool active = true;
        while (true)
        {
            Thread.Sleep(active ? ActiveTick : IdleTick);
            active = false;
            foreach (var sends in Volatile.Read(ref s_watched))
                active |= sends.Check();
        }
    }
}
