namespace VirtioRpmsg.Rpmsg;

// The queue's end: drained when nobody will read it, or retained for its reader after the peer's DESTROY while the
// device's queue budget has room for it (RpmsgQueueBudget takes the oldest retained queue's room back when it has not).
internal sealed partial class RpmsgEndpointQueue
{
    private bool _retained; // under _readLock: listed in the budget (RetainUnread) until read to its end, drained or reclaimed
    private long _chargedIn;  // what queued messages were charged, by the single writer (TryEnqueue)
    private long _chargedOut; // what read or drained messages were given back, under _readLock

    /// <summary>True once <see cref="Close"/> ran (messages may still be queued for readers): a refused write is no full queue.</summary>
    internal bool IsClosing => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>No more messages; readers drain what is queued, then see <see cref="IsClosed"/>.</summary>
    internal void Close()
    {
        // The closed bit: the writer's next publication fails, also one under way (RpmsgEndpointQueue.Slots.cs).
        Interlocked.Or(ref _state, ClosedBit);
        WakeReaders(all: true);
        _device?.Rx.HandOver.OnQueueClosed(this);
    }

    /// <summary>What every message ever queued here was charged (tests: a message handed over directly adds nothing).</summary>
    internal long ChargedIn => Volatile.Read(ref _chargedIn);

    /// <summary>The endpoint whose queue this is: a reclaim (<see cref="Reclaim"/>) counts its drops there.</summary>
    internal RpmsgEndpoint? Owner { get; init; }

    // The budget's list of retained queues (RpmsgQueueBudget.Retain), under its lock.
    internal bool RetainedListed;
    internal long RetainedBytes; // what this listed queue still holds charged
    internal RpmsgEndpointQueue? RetainedPrevious, RetainedNext;

    /// <summary>Returns the queued payloads to the pool (after close, when nobody will read them); how many there were.</summary>
    internal int Drain()
    {
        int drained = 0;
        lock (_readLock)
        {
            // Off the list before the refunds: a charge in between sees these bytes as live (at worst it is refused),
            // rather than take another withdrawn queue's messages back for room this drain gives anyway.
            if (_retained)
                Unretain();
            while (Count > 0)
            {
                TakeSlot(default, copy: false, out _, out int length);
                _chargedOut += RpmsgQueueBudget.Cost(length);
                _budget.Refund(length);
                drained++;
            }
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
            if (_retained || Count == 0)
                return;
            _retained = true;
            // Closed, and the writer (the ring's owner, which runs the DESTROY) done: what is left is charged this much.
            _budget.Retain(this, _chargedIn - _chargedOut);
        }
    }

    // A retained queue's message was read: its charge is no longer the budget's to take back.
    private void RetainedTaken(int length, int left)
    {
        if (left == 0)
            Unretain(); // read to its end: nothing left to take back
        else
            _budget.RetainedRead(this, RpmsgQueueBudget.Cost(length));
    }

    private void Unretain()
    {
        _retained = false;
        _budget.Forget(this);
    }

    private long _reclaimed; // messages a reclaim dropped unread: the reader is told (Reclaimed), not given the clean end

    /// <summary>Messages the budget took back unread (<see cref="Reclaim"/>): once the queue is empty, its reader gets that instead of the end.</summary>
    internal long Reclaimed => Volatile.Read(ref _reclaimed);

    /// <summary>The budget took this retained queue's room back: its messages are dropped, counted on its endpoint.</summary>
    internal void Reclaim()
    {
        int dropped;
        lock (_readLock)
        {
            // Recorded before the first message goes: a reader finds the queue empty (its count, or the closed end)
            // only after, and then sees that messages were dropped, not the clean end of the queue. Closed (the
            // writer is done) and under the readers' lock, the count is what the drain takes.
            int queued = Count;
            if (queued > 0)
                Volatile.Write(ref _reclaimed, _reclaimed + queued);
            dropped = Drain(); // the same lock again (a Monitor: taken once more by this thread)
        }
        if (dropped > 0)
            Owner?.CountReclaimed(dropped);
    }
}
