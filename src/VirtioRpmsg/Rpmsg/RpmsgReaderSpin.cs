using System.Diagnostics;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// How a queue reader that found nothing spins before it sleeps (the spin budget: hybrid and busy-poll).
/// <para>
/// With a device to poll, the reader consumes the rx ring itself from its first iteration (<see cref="Help"/>),
/// so its message needs no hand-off from the dispatcher thread, a wake-up that costs more than the whole round
/// trip; that poll copies the message straight into the reader's destination when it can
/// (<see cref="RpmsgDirectReceive"/>). It counts as a helper meanwhile (<see cref="RpmsgRxRingOwner.HelperIn"/>): the dispatcher thread then
/// sleeps without asking the peer to kick (<see cref="RpmsgDispatcherThread"/>), so neither the peer's kick nor
/// the dispatcher's wake-up lands in the round trip. A reader whose budget runs out, and which was the last
/// helper, asks for kicks again before it sleeps (<see cref="RpmsgDispatcherThread.RearmRxNotifications"/>): what arrives
/// next wakes the dispatcher, which wakes the reader. A reader that got its message does not: it is usually
/// back within microseconds, and the dispatcher either sleeps with notifications off and looks again within
/// <see cref="RpmsgDispatcherThread.HelperRecheck"/>, or slept with them on and is woken by the one kick its armed
/// event draws (the reader's takes leave the event where it was; RpmsgRxDispatcher.ProcessPendingOwned).
/// </para>
/// </summary>
internal static class RpmsgReaderSpin
{
    /// <summary>
    /// Spins until <paramref name="queue"/> is ready (a message queued, or closed): a few iterations always (a reply
    /// already on its way), then, with a spin budget, until it runs out. True when ready.
    /// </summary>
    /// <remarks>
    /// While it polls the ring no thread it needs runs elsewhere, so it spins without yielding: a yield would hand
    /// the core to any other runnable process for a time slice, a wake-up's worth of latency per message on a busy
    /// machine. Without a device to poll it waits for the writer, which may share its core, so it yields between
    /// checks (never sleeps). Inside a receive callback of its device it does not spin at all (the ring is its own).
    /// </remarks>
    internal static bool Until(RpmsgEndpointQueue queue, RpmsgDevice? device, long spinTicks, ref RpmsgDirectReceive direct)
    {
        // Inside one of its device's receive callbacks (a ReceiveAsync started there): this thread owns the rx ring, so
        // nothing can reach the queue before the callback returns. A spin would only stall the device (under BusyPoll for
        // its whole idle timeout, per receive).
        if (device is not null && device.IsDispatcherContext)
            return queue.Ready();
        if (spinTicks > 0 && device is not null && !device.IsDispatcherContext)
            return Helping(queue, device, Stopwatch.GetTimestamp() + spinTicks, ref direct);
        var spin = new SpinWait();
        while (!spin.NextSpinWillYield)
        {
            if (queue.Ready())
                return true;
            spin.SpinOnce();
        }
        if (spinTicks <= 0)
            return queue.Ready();
        long until = Stopwatch.GetTimestamp() + spinTicks;
        while (!queue.Ready())
        {
            if (Stopwatch.GetTimestamp() >= until)
                return false;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        return true;
    }

    private static bool Helping(RpmsgEndpointQueue queue, RpmsgDevice device, long until, ref RpmsgDirectReceive direct)
    {
        var owner = device.Rx.Owner;
        owner.HelperIn();
        bool ready = false;
        try
        {
            for (int i = 1; ; i++)
            {
                Help(device, ref direct);
                if (direct.Done || queue.Ready())
                    return ready = true;
                if ((i & 15) == 0 && Stopwatch.GetTimestamp() >= until)
                    return false;
                // Rarely (about every millisecond), in case a thread this one needs (the dispatcher inside a long
                // callback) shares the core. Between polls at most a short pause (a poll costs about 0.1 us).
                if ((i & 8191) == 0)
                    Thread.Yield();
                else
                    RpmsgSpinPause.After(i);
            }
        }
        finally
        {
            // Out first, then the re-arm: against the dispatcher's disable, then its look at the helper count.
            // A message that landed after the last poll and before the re-arm was not kicked for: take it here
            // (the dispatcher would only see it at its next look), so the caller's re-check finds it queued.
            if (owner.HelperOut() && !ready && (!RpmsgDispatcherThread.RearmRxNotifications(device) || device.Rx.HasBacklog))
            {
                // Into the queue, not the destination: the caller's re-check after a failed spin looks only there.
                var none = default(RpmsgDirectReceive);
                Help(device, ref none);
            }
        }
    }

    /// <summary>
    /// One <see cref="RpmsgDevice.Poll"/> (nothing happens while the dispatcher holds the ring). Other endpoints'
    /// callbacks may then run on this thread, as with any Poll; never from inside a callback.
    /// </summary>
    private static void Help(RpmsgDevice device, ref RpmsgDirectReceive direct)
    {
        if (device.State != RpmsgDeviceState.Running)
            return;
        try
        {
            device.Rx.Poll(ref direct);
        }
        catch (RpmsgDeviceUnavailableException)
        {
            // Stopped or broken meanwhile: the queue is closed too, and the reader reports why.
        }
    }
}
