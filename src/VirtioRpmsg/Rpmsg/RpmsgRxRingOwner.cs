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

    internal bool IsOwned => Volatile.Read(ref _owned) != 0;

    /// <summary>Takes ownership if free; false at once otherwise.</summary>
    internal bool TryEnter() => Interlocked.CompareExchange(ref _owned, 1, 0) == 0;

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
    internal void Exit() => Volatile.Write(ref _owned, 0);
}
