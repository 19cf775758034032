namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Whose turn a freed tx buffer is: senders inside a receive callback waiting for one go first (RpmsgTxPath).
/// An application sender hands this to the transport, which looks at it under its tx gate, in the same entry as
/// the take: a look made before the take (and a preemption between the two) let an application sender take a
/// buffer freed after a callback sender's failed try, which is what the rule exists to prevent.
/// </summary>
internal sealed class RpmsgTxTurn
{
    /// <summary>Callback senders waiting now (interlocked).</summary>
    internal int CallbackWaiters;

    /// <summary>True while a callback sender waits: an application sender leaves the free buffers to it.</summary>
    internal bool ApplicationMustWait => Volatile.Read(ref CallbackWaiters) != 0;
}
