namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Who consumes the rx ring right now: the rings have one consumer, so the dispatcher thread (per
/// batch) and <see cref="RpmsgDevice.Poll"/> callers take turns. Not reentrant. Poll uses
/// <see cref="TryEnter"/> (a racing Poll does nothing rather than wait); the dispatcher thread uses
/// <see cref="Enter"/>, which spins because a Poll batch is short and never blocks.
/// </summary>
internal sealed class RpmsgRxRingOwner
{
    private int _owned;
    private int _ownerThread; // managed thread id of the owner, 0 when free (written by the owner only)

    internal bool IsOwned => Volatile.Read(ref _owned) != 0;

    /// <summary>True on the thread that owns the ring.</summary>
    internal bool IsHeldByCurrentThread => Volatile.Read(ref _ownerThread) == Environment.CurrentManagedThreadId;

    /// <summary>Takes ownership if free; false at once otherwise.</summary>
    internal bool TryEnter()
    {
        if (Interlocked.CompareExchange(ref _owned, 1, 0) != 0)
            return false;
        _ownerThread = Environment.CurrentManagedThreadId;
        return true;
    }

    /// <summary>Takes ownership, spinning (never sleeping a whole time slice) until it is free.</summary>
    internal void Enter()
    {
        if (TryEnter())
            return;
        var spin = new SpinWait();
        while (!TryEnter())
            spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Gives ownership back (release semantics: the batch's ring updates are visible first).</summary>
    internal void Exit()
    {
        _ownerThread = 0;
        Volatile.Write(ref _owned, 0);
    }

    // Application threads spinning in a queue read that poll the ring themselves (RpmsgReaderSpin). While
    // any does, the dispatcher thread neither spins nor asks for kicks (it sleeps, looking again now and
    // then): on a machine with a core per side, a third spinner, or a kick and wake-up per message, would
    // take the reader's core.
    private int _helpers;

    /// <summary>True while an application thread spins polling the ring (the dispatcher then does not spin).</summary>
    internal bool HasHelpers => Volatile.Read(ref _helpers) != 0;

    /// <summary>An application thread starts polling the ring while it spins for a message.</summary>
    internal void HelperIn() => Interlocked.Increment(ref _helpers);

    /// <summary>Pairs with <see cref="HelperIn"/>; true when it was the last helper (a full fence either way).</summary>
    internal bool HelperOut() => Interlocked.Decrement(ref _helpers) == 0;
}
