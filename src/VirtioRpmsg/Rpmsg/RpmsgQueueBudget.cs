namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The device-wide limit on memory held in queue-style endpoints' receive queues. Without it a remote
/// can make us hold MaxEndpoints x EndpointQueueCapacity copied messages (about 512 MB with the
/// defaults) just by announcing services nobody reads. Each queued message is charged its payload
/// plus a fixed overhead (so empty messages count too) until it is read or its queue is drained; a
/// message the budget cannot cover is dropped and counted like a full queue. The dispatcher's parking
/// backlog charges what it grows beyond its fixed slots here too (RpmsgParkedBacklog). Lock-free: one
/// interlocked add per message on the dispatcher, one per read.
/// <para>
/// A channel the peer's DESTROY removed keeps its unread messages for its reader, still charged here, but only while
/// nothing live needs the room: such queues are listed (<see cref="Retain"/>), and a charge that does not fit first
/// takes back the oldest one's messages (dropped and counted on its endpoint, whose reader then sees the end), but only
/// when giving back what the listed queues hold can make it fit (else they would be dropped for nothing). Else a
/// peer announcing, filling and withdrawing services in a loop, with an application that does not read or dispose
/// those channels, would spend the budget for good and starve every other endpoint.
/// </para>
/// </summary>
internal sealed class RpmsgQueueBudget(long limit)
{
    /// <summary>What one queued message costs beyond its payload (array header, queue slot).</summary>
    internal const int PerMessageOverhead = 64;

    private long _used;

    internal long Limit { get; } = limit;

    /// <summary>Bytes charged now.</summary>
    internal long Used => Interlocked.Read(ref _used);

    internal static long Cost(int payloadLength) => payloadLength + (long)PerMessageOverhead;

    /// <summary>Messages refused because the budget was used up (they count as drops too).</summary>
    internal long Refusals => Interlocked.Read(ref _refusals);

    private long _refusals;

    /// <summary>Charges one message of <paramref name="payloadLength"/> bytes; false (nothing charged, a refusal counted) when it does not fit.</summary>
    internal bool TryCharge(int payloadLength)
    {
        if (TryReserve(Cost(payloadLength)))
            return true;
        Interlocked.Increment(ref _refusals);
        return false;
    }

    /// <summary>Charges <paramref name="bytes"/> of other held memory (the dispatcher's grown parking backlog); false, nothing charged, when it does not fit.</summary>
    internal bool TryReserve(long bytes)
    {
        while (true)
        {
            if (Interlocked.Add(ref _used, bytes) <= Limit)
                return true;
            Interlocked.Add(ref _used, -bytes);
            // Withdrawn bytes first, then the use: a reader's take refunds before it unlists, so a retained figure
            // that no longer counts a message comes with a use that no longer does either.
            long retained = Volatile.Read(ref _retainedBytes);
            long used = Volatile.Read(ref _used);
            if (used + bytes <= Limit)
                continue; // room came meanwhile (a reader's refund)
            // Even every withdrawn channel's messages given back would not make room: keep them (dropping them would
            // gain nothing, the charge is refused all the same).
            if (used - retained + bytes > Limit)
                return false;
            if (!ReclaimOldest() && Volatile.Read(ref _used) + bytes > Limit)
                return false; // nothing listed any more, and no room: a reader that emptied its queue meanwhile refunded first
        }
    }

    // Queues the peer's DESTROY closed with messages unread, oldest first (a list linked through the queues, under _retainedLock).
    private readonly Lock _retainedLock = new();
    private RpmsgEndpointQueue? _oldest, _newest;
    private long _retainedBytes; // what the listed queues hold charged (written under _retainedLock)

    /// <summary>Lists <paramref name="queue"/> (closed by the peer's DESTROY, messages left): its charge may be taken back.</summary>
    internal void Retain(RpmsgEndpointQueue queue, long bytes)
    {
        lock (_retainedLock)
        {
            if (queue.RetainedListed)
                return;
            queue.RetainedListed = true;
            queue.RetainedBytes = bytes;
            Volatile.Write(ref _retainedBytes, _retainedBytes + bytes);
            queue.RetainedPrevious = _newest;
            queue.RetainedNext = null;
            if (_newest is null)
                _oldest = queue;
            else
                _newest.RetainedNext = queue;
            _newest = queue;
        }
    }

    /// <summary>Takes <paramref name="queue"/> off the list (read to its end, or drained); nothing if it is not listed.</summary>
    internal void Forget(RpmsgEndpointQueue queue)
    {
        lock (_retainedLock)
            Unlink(queue);
    }

    /// <summary>A message of listed <paramref name="queue"/> was read: <paramref name="bytes"/> less to take back.</summary>
    internal void RetainedRead(RpmsgEndpointQueue queue, long bytes)
    {
        lock (_retainedLock)
        {
            if (!queue.RetainedListed)
                return;
            queue.RetainedBytes -= bytes;
            Volatile.Write(ref _retainedBytes, _retainedBytes - bytes);
        }
    }

    /// <summary>What the listed queues hold charged (tests).</summary>
    internal long RetainedBytes => Volatile.Read(ref _retainedBytes);

    private void Unlink(RpmsgEndpointQueue queue)
    {
        if (!queue.RetainedListed)
            return;
        Volatile.Write(ref _retainedBytes, _retainedBytes - queue.RetainedBytes);
        queue.RetainedBytes = 0;
        if (queue.RetainedPrevious is { } previous)
            previous.RetainedNext = queue.RetainedNext;
        else
            _oldest = queue.RetainedNext;
        if (queue.RetainedNext is { } next)
            next.RetainedPrevious = queue.RetainedPrevious;
        else
            _newest = queue.RetainedPrevious;
        queue.RetainedPrevious = queue.RetainedNext = null;
        queue.RetainedListed = false;
    }

    /// <summary>Drops the oldest listed queue's messages (their charge comes back); false when none is listed.</summary>
    private bool ReclaimOldest()
    {
        if (Volatile.Read(ref _oldest) is null)
            return false;
        RpmsgEndpointQueue? oldest;
        lock (_retainedLock)
        {
            oldest = _oldest;
            if (oldest is null)
                return false;
            Unlink(oldest);
        }
        oldest.Reclaim(); // outside our lock: it takes the queue's (whose reads take ours in that order)
        return true;
    }

    /// <summary>Listed queues (tests).</summary>
    internal int RetainedCount
    {
        get
        {
            lock (_retainedLock)
            {
                int n = 0;
                for (var q = _oldest; q is not null; q = q.RetainedNext)
                    n++;
                return n;
            }
        }
    }

    /// <summary>Gives back what <see cref="TryReserve"/> charged.</summary>
    internal void Release(long bytes) => Interlocked.Add(ref _used, -bytes);

    /// <summary>Gives back what one message of <paramref name="payloadLength"/> bytes was charged.</summary>
    internal void Refund(int payloadLength) => Interlocked.Add(ref _used, -Cost(payloadLength));
}
