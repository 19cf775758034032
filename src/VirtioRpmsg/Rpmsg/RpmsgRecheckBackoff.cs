namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// How long a sender waiting for a tx buffer sleeps before it looks again by itself when nothing may wake it for a
/// returned buffer (a peer that returns them without a kick: <see cref="IRpmsgTransport.TxReturnsUnsignalled"/>):
/// <see cref="FirstMilliseconds"/> (RPMsg-Lite's RL_MS_PER_INTERVAL), then twice as long after each look that found
/// nothing and was not woken, up to <see cref="CapMilliseconds"/>; a wake-up (the tx-returned signal, a kick on the
/// doorbell a callback sender waits on, a message to park) starts again at the first. One per send: a new send, and
/// so the one after a buffer was found, starts at the first too.
/// </summary>
/// <remarks>
/// A burst that runs out of buffers resumes within about 1 ms, as before; a sender stuck on a peer that returns
/// nothing looked every 1 ms for as long as it waited (about 2.7 % of a core per sender), and now looks about every
/// <see cref="CapMilliseconds"/> after the first 31 ms. The wait is still clipped to the send's deadline by the caller,
/// so a send timeout fires on time (never a back-off step late). A value type: a wait allocates nothing.
/// </remarks>
internal struct RpmsgRecheckBackoff
{
    /// <summary>The first re-check's wait: RPMsg-Lite's RL_MS_PER_INTERVAL (its own sides poll that often).</summary>
    internal const int FirstMilliseconds = 1;

    /// <summary>The longest re-check wait while nothing comes back.</summary>
    internal const int CapMilliseconds = 16;

    private int _step; // the next wait; 0 for the first

    /// <summary>The next re-check's wait, at most <paramref name="limit"/> (IdleRecheckInterval, in whole ms).</summary>
    internal readonly int Next(int limit) => Math.Min(limit, _step == 0 ? FirstMilliseconds : _step);

    /// <summary>After a wait: <paramref name="woken"/> (a signal, a kick) starts again at the first, a wait that ran out doubles the next.</summary>
    internal void Waited(bool woken) => _step = woken ? 0 : Math.Min(CapMilliseconds, 2 * Math.Max(FirstMilliseconds, _step));
}
