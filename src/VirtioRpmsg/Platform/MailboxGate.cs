namespace VirtioRpmsg.Platform;

/// <summary>
/// Keeps a stopped mailbox off its registers. Every path that touches them (a ring in any mode, a kept kick's flush,
/// an acknowledge) runs inside <see cref="TryEnter"/> .. <see cref="Exit"/>; <see cref="Close"/> (Stop, and Start while
/// it sets the controller up) refuses later entries and waits for those inside, so once it returns nothing but its
/// caller touches the registers until <see cref="Open"/>. Entering never waits and never allocates (one atomic
/// increment, one more to leave); only Close waits, for a few register accesses of a call already inside.
/// </summary>
internal sealed class MailboxGate
{
    // Bit 31: closed; bits 0-30: calls inside (or just refused, leaving at once).
    private int _state;

    /// <summary>
    /// Held by the mailbox's Start and Stop for their whole run: one at a time. A second closer would find the gate
    /// closed already and go on beside the first on the registers (a Stop beside a Start's set-up), and could leave a
    /// state no order of the two leaves (Start's Open after Stop's Close of the kicks: rings refused for good).
    /// Never taken on the ring or acknowledge path.
    /// </summary>
    internal Lock Lifecycle { get; } = new();

    private const int ClosedBit = int.MinValue, Inside = int.MaxValue;

    /// <summary>False when the mailbox is stopped: the caller must not touch the registers (and need not call <see cref="Exit"/>).</summary>
    internal bool TryEnter()
    {
        // A full fence: either Close's Or comes first and this sees it, or Close's wait sees this call inside.
        if (Interlocked.Increment(ref _state) >= 0)
            return true;
        Interlocked.Decrement(ref _state);
        return false;
    }

    /// <summary>Leaves after a <see cref="TryEnter"/> that returned true.</summary>
    internal void Exit() => Interlocked.Decrement(ref _state);

    /// <summary>True from <see cref="Close"/> until <see cref="Open"/>.</summary>
    internal bool IsClosed => Volatile.Read(ref _state) < 0;

    /// <summary>
    /// Refuses every later entry and waits until no call is inside. Not for the ring path: a thread inside holds it for
    /// a few register accesses, never for a wait. Must not be called from inside (it would wait for itself).
    /// </summary>
    internal void Close()
    {
        Interlocked.Or(ref _state, ClosedBit);
        var spin = new SpinWait();
        while ((Volatile.Read(ref _state) & Inside) != 0)
            spin.SpinOnce();
    }

    /// <summary>Lets calls in again (Start, once the controller is set up).</summary>
    internal void Open() => Interlocked.And(ref _state, Inside);
}
