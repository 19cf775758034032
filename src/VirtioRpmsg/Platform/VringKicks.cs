using System.Numerics;

namespace VirtioRpmsg.Platform;

/// <summary>A controller's "send this vring's signal now, or refuse": one register protocol step, never waiting.</summary>
internal interface IVringSignalSink
{
    /// <summary>Sends <paramref name="signal"/> (a message word, or a channel bit); false when the controller cannot take it now.</summary>
    bool TrySendSignal(uint signal);
}

/// <summary>
/// The per-vring signals of a mailbox that names the kicked vring (i.MX MU and TI words, STM32 IPCC channels), and
/// the kicks not yet delivered. A word of one vring must never overwrite, or be dropped for, another vring's: firmware
/// that dispatches on the word (RPMsg-Lite's env_isr, TI's IPC notify callback) would otherwise never see that
/// vring's kick. So a kick the controller refuses is kept as a pending bit and sent at the next ring or at our next
/// interrupt (<see cref="Flush"/>), and one thread at a time writes (a try-lock: a ringer that finds it taken leaves
/// its bit for the holder, who looks again after releasing). Never blocks, never allocates. The controller's Stop
/// closes the kicks (<see cref="Close"/>): from its return until the next Start nothing is written.
/// </summary>
internal sealed class VringKicks
{
    private readonly uint _vring0, _vring1;
    private readonly VringNotifyIds? _ids;
    private readonly Func<uint, uint>? _wordOf;
    private int _pending; // bit v: vring v's signal is still to be sent
    private int _busy; // Free, Held (one thread writes) or Closed (the controller is stopped: nobody writes)
    private int _rings; // counts Ring calls, so a holder can tell whether one came during its round

    internal VringKicks(uint vring0, uint vring1)
    {
        _vring0 = vring0;
        _vring1 = vring1;
    }

    /// <summary>Signals that follow the vdev's notify ids: vring v's is <paramref name="wordOf"/>(its id), read at each kick.</summary>
    internal VringKicks(VringNotifyIds ids, Func<uint, uint> wordOf)
    {
        _ids = ids;
        _wordOf = wordOf;
    }

    /// <summary>The signal of vring <paramref name="vring"/> (0 or 1).</summary>
    internal uint Signal(int vring) => _ids is { } ids ? _wordOf!(ids.Get(vring)) : vring == 0 ? _vring0 : _vring1;

    /// <summary>Kicks not yet delivered (bit v: vring v), for diagnostics and tests.</summary>
    internal int Pending => Volatile.Read(ref _pending);

    /// <summary>Records a kick of <paramref name="vring"/> and sends what is pending; true when this kick's signal went out now.</summary>
    internal bool Ring(int vring, IVringSignalSink sink)
    {
        if ((uint)vring > 1)
            ThrowNotAVring(vring);
        int bit = 1 << vring;
        Interlocked.Or(ref _pending, bit);
        // After the bit: a holder that read the count before this saw the bit in its round, or loops again.
        Interlocked.Increment(ref _rings);
        return (Flush(sink) & bit) != 0;
    }

    private const int Free = 0, Held = 1, Closed = 2;

    /// <summary>Forgets every pending kick and opens the kicks again after <see cref="Close"/> (the controller is being started: nothing earlier applies).</summary>
    internal void Clear()
    {
        Volatile.Write(ref _pending, 0);
        Interlocked.CompareExchange(ref _busy, Free, Closed);
    }

    /// <summary>
    /// The controller is stopping: waits for a thread sending now (a few register accesses), then keeps every later
    /// ring and flush from writing until <see cref="Clear"/>; they keep their bits and report them not sent. Not on the
    /// ring path: only Stop waits here, never a ring.
    /// </summary>
    internal void Close()
    {
        var spin = new SpinWait();
        while (true)
        {
            int state = Interlocked.CompareExchange(ref _busy, Closed, Free);
            if (state != Held)
                return;
            spin.SpinOnce();
        }
    }

    /// <summary>Sends every pending kick the controller takes now; returns the bits sent by this call.</summary>
    internal int Flush(IVringSignalSink sink)
    {
        int sent = 0;
        // Each holder looks again after releasing, so a bit left by a ringer that found the lock taken is not
        // stranded; a round that sends nothing (the controller refuses) ends it, as does an empty set, unless a ring
        // came during that round: its bit may be another vring's, on a channel that is free (STM32 IPCC), or come
        // after the controller was refused and then drained, and its ringer, finding the lock taken, left it to us.
        while (Volatile.Read(ref _pending) != 0 && Interlocked.CompareExchange(ref _busy, Held, Free) == Free)
        {
            int round = 0;
            int rings = Volatile.Read(ref _rings);
            try
            {
                int pending = Volatile.Read(ref _pending);
                while (pending != 0)
                {
                    int v = BitOperations.TrailingZeroCount(pending);
                    pending &= pending - 1;
                    if (sink.TrySendSignal(Signal(v)))
                    {
                        Interlocked.And(ref _pending, ~(1 << v));
                        round |= 1 << v;
                    }
                }
            }
            finally
            {
                // A full fence, not a release store: the reads of _pending and _rings below must not move before it
                // (a ringer's bit and count then CAS, against this store then those reads: one of the two sees the other).
                Interlocked.Exchange(ref _busy, Free);
            }
            sent |= round;
            if (round == 0 && Volatile.Read(ref _rings) == rings)
                break;
        }
        return sent;
    }

    private static void ThrowNotAVring(int vring) =>
        throw new ArgumentOutOfRangeException(nameof(vring), vring, "An rpmsg vdev has two vrings: 0 (the host's rx) and 1 (its tx).");
}
