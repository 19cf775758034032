namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A second Stop (or Dispose) waiting for the first: whoever returns from one finds the dispatcher joined, the rings and
/// doorbell free (review: stoprace). Waiting is safe only where it cannot close a cycle, so it is skipped on a thread that
/// this stop waits for, or that any other device's stop under way waits for (rereview-h): two devices whose stops each
/// reach, through a StateChanged handler or a receive callback, a Stop of the other would otherwise wait for each other.
/// A thread that waits here was waited for by no stop when it began to; any cycle would need a stop that began after the
/// one that waits for it (see <see cref="AwaitOtherStop"/>).
/// </summary>
public sealed partial class RpmsgDevice
{
    // The devices whose Stop is under way, in every process-wide place a thread may wait for one (registered under the
    // device's _sync, with the state; never on a per-message path).
    private static readonly object s_stoppingLock = new();
    private static readonly List<RpmsgDevice> s_stopping = [];

    // The thread running Stop (0 when none), and whether that Stop has ended: a Stop or Dispose on another thread
    // waits for it. Set under _sync; the end is pulsed on _sync.
    private int _stoppingThread;
    private volatile bool _stopEnded;

    private bool IsStoppingThread => Volatile.Read(ref _stoppingThread) == Environment.CurrentManagedThreadId;

    /// <summary>Test hook: a Stop (or Dispose) is about to wait for another thread's Stop of this device to finish.</summary>
    internal Action? WaitingForStop { get; set; }

    // Under _sync, as the state becomes Stopped.
    private void BeginStopWait()
    {
        _stoppingThread = Environment.CurrentManagedThreadId;
        lock (s_stoppingLock)
            s_stopping.Add(this);
    }

    // Under _sync, once the Stop has ended (or thrown).
    private void EndStopWait()
    {
        lock (s_stoppingLock)
            s_stopping.Remove(this);
        _stopEnded = true;
        _stoppingThread = 0; // the thread may recover or stop again once its Stop returned
        Monitor.PulseAll(_sync);
    }

    // Another thread's Stop is under way (or ended): a caller that went on now would start a fresh device over rings and
    // a doorbell the old one still uses, or unmap memory under its dispatcher. Not on a thread that a stop under way (this
    // one or another device's) waits for: it would wait for itself, directly or round a cycle of stops. A stop that
    // begins after this thread began waiting may come to wait for it, but the stop this one waits for began earlier:
    // following such waits round a cycle would need each stop to have begun before the one before it.
    private void AwaitOtherStop()
    {
        if (_stopEnded || IsWaitedForByAStopUnderWay())
            return;
        WaitingForStop?.Invoke();
        lock (_sync)
        {
            while (!_stopEnded)
                Monitor.Wait(_sync);
        }
    }

    private static bool IsWaitedForByAStopUnderWay()
    {
        RpmsgDevice[] stopping;
        lock (s_stoppingLock)
            stopping = [.. s_stopping];
        // Outside the registry's lock: IsWaitedForByStop takes each device's own.
        foreach (var device in stopping)
        {
            if (device.IsWaitedForByStop)
                return true;
        }
        return false;
    }
}
