using System.Buffers;

namespace VirtioRpmsg.Rpmsg;

// The queue's end: drained when nobody will read it, or retained for its reader after the peer's DESTROY while the
// device's queue budget has room for it (RpmsgQueueBudget takes the oldest retained queue's room back when it has not).
internal sealed partial class RpmsgEndpointQueue
{
    private bool _retained; // under _readLock: listed in the budget (RetainUnread) until read to its end, drained or reclaimed

    /// <summary>The endpoint whose queue this is: a reclaim (<see cref="Reclaim"/>) counts its drops there.</summary>
    internal RpmsgEndpoint? Owner { get; init; }

    // The budget's list of retained queues (RpmsgQueueBudget.Retain), under its lock.
    internal bool RetainedListed;
    internal RpmsgEndpointQueue? RetainedPrevious, RetainedNext;

    /// <summary>Returns the queued payloads to the pool (after close, when nobody will read them); how many there were.</summary>
    internal int Drain()
    {
        int drained = 0;
        lock (_readLock)
        {
            while (_channel.Reader.TryRead(out var message))
            {
                Interlocked.Decrement(ref _queued);
                ArrayPool<byte>.Shared.Return(message.Buffer);
                _budget.Refund(message.Length);
                drained++;
            }
            if (_retained)
                Unretain();
        }
        return drained;
    }

    /// <summary>
    /// Closed by the peer's DESTROY, kept for its reader: the messages left stay readable, and stay charged to the budget,
    /// until a charge that does not fit takes them back (<see cref="Reclaim"/>), oldest such queue first.
    /// </summary>
    internal void RetainUnread()
    {
        lock (_readLock)
        {
            if (_retained || Volatile.Read(ref _queued) == 0)
                return;
            _retained = true;
            _budget.Retain(this);
        }
    }

    private void Unretain()
    {
        _retained = false;
        _budget.Forget(this);
    }

    /// <summary>The budget took this retained queue's room back: its messages are dropped, counted on its endpoint.</summary>
    internal void Reclaim()
    {
        int dropped = Drain();
        if (dropped > 0)
            Owner?.CountReclaimed(dropped);
    }
}
