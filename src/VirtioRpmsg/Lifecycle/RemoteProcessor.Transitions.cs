using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

// The transition lock, and the receive callbacks that must not wait for it.
public sealed partial class RemoteProcessor
{
    // How long a receive callback waits for the transition lock before it looks at its device again.
    private const int CallbackLockPollMilliseconds = 10;

    // 1: a Dispose from a receive callback could not wait for the transition lock; the transition holding it completes it.
    private int _disposeDeferred;

    /// <summary>
    /// Runs <paramref name="body"/> (a transition, a crash report, a recovery) under the transition lock. A
    /// <see cref="Dispose"/> from one of the event handlers it raises is completed when it ends: the session it may just
    /// have set up is torn down then, never left running on a disposed processor. So is a Dispose from a receive callback
    /// of a device it stopped (<see cref="EnterTransition"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Called in a receive callback (or on another thread that a stop of the device waits for:
    /// a Probe, a sender's or the stopping thread's StateChanged handler) of a device that another thread's transition is stopping.</exception>
    private void Locked(string verb, Action body)
    {
        if (!EnterTransition())
            throw new InvalidOperationException($"remote processor '{Name}' cannot {verb} from a receive callback of its device (or a Probe, or a "
                + "StateChanged handler of a sender or of the thread stopping it) while another thread's transition stops that device (the stop "
                + "waits for the callback to return); return from the callback first (Dispose from a callback is completed when that transition ends)");
        bool disposeNow = false;
        try
        {
            try
            {
                body();
            }
            finally
            {
                try
                {
                    disposeNow = _disposePending;
                    if (disposeNow)
                    {
                        _disposePending = false;
                        StopForDispose();
                    }
                }
                finally
                {
                    Monitor.Exit(_transition);
                }
            }
        }
        finally
        {
            // Also when the body threw (a Stop the control refused after the devices were stopped): a dispose it owes
            // (from one of its event handlers, or deferred by a receive callback it joined) is completed all the same.
            if (disposeNow)
                EndMonitor();
            // After the lock is released (full fence): pairs with the callback's publish-then-try in Dispose.
            if (Interlocked.Exchange(ref _disposeDeferred, 0) != 0)
                Dispose();
        }
    }

    /// <summary>
    /// Takes the transition lock. False only on a thread that a stop of one of this processor's devices waits for (a
    /// receive callback or a poll, a Probe, a sender's StateChanged handler, the thread stopping that device) once that
    /// device is stopped while another thread holds the lock: that thread's teardown waits for this one to return from
    /// there (it joins the dispatcher thread, drains the sender, waits for the Probe or the other Stop), so waiting for
    /// the lock never ends.
    /// </summary>
    private bool EnterTransition()
    {
        if (Monitor.TryEnter(_transition))
            return true;
        var device = CallbackDevice();
        if (device is null)
        {
            Monitor.Enter(_transition);
            return true;
        }
        while (!Monitor.TryEnter(_transition, CallbackLockPollMilliseconds))
        {
            if (device.State == RpmsgDeviceState.Stopped)
                return false;
        }
        return true;
    }

    /// <summary>The current session's device whose stop would wait for the calling thread (RpmsgDevice.IsWaitedForByStop); null if none.</summary>
    private RpmsgDevice? CallbackDevice()
    {
        foreach (var vdev in _session?.Vdevs ?? [])
        {
            if (vdev.Device.IsWaitedForByStop)
                return vdev.Device;
        }
        return null;
    }
}
