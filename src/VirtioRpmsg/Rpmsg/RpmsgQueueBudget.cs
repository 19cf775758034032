namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The device-wide limit on memory held in queue-style endpoints' receive queues. Without it a remote
/// can make us hold MaxEndpoints x EndpointQueueCapacity copied messages (about 512 MB with the
/// defaults) just by announcing services nobody reads. Each queued message is charged its payload
/// plus a fixed overhead (so empty messages count too) until it is read or its queue is drained; a
/// message the budget cannot cover is dropped and counted like a full queue. The dispatcher's parking
/// backlog charges what it grows beyond its fixed slots here too (RpmsgParkedBacklog). Lock-free: one
/// interlocked add per message on the dispatcher, one per read.
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
        if (Interlocked.Add(ref _used, bytes) <= Limit)
            return true;
        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    /// <summary>Gives back what <see cref="TryReserve"/> charged.</summary>
    internal void Release(long bytes) => Interlocked.Add(ref _used, -bytes);

    /// <summary>Gives back what one message of <paramref name="payloadLength"/> bytes was charged.</summary>
    internal void Refund(int payloadLength) => Interlocked.Add(ref _used, -Cost(payloadLength));
}
