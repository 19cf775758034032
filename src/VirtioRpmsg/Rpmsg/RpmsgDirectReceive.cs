namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A receive that its own reader's poll may complete in place (<see cref="RpmsgReaderSpin"/>): a reader spinning for
/// a message polls the rx ring itself, and the message it is waiting for then lands straight in its destination
/// (copied from the poll's private copy of the ring's buffer, as every delivery is) instead of passing through the
/// endpoint's queue (a copy into a slot, the readers' lock and the count, all on the round trip's path).
/// So does the message of a reader that holds the doorbell under <see cref="RpmsgWaitStrategy.Interrupt"/>
/// (<see cref="RpmsgDoorbellHandOver"/>): its poll after each ring passes the same destination.
/// <para>
/// Only when that changes nothing a reader can see (<see cref="RpmsgEndpointQueue.TryHandDirect"/>): the queue is
/// empty (so this message is the oldest, and it goes to whoever reads first), no reader sleeps or is parked on it
/// (they came first), and the message fits (a message too big stays queued, for the reader's error).
/// </para>
/// </summary>
internal ref struct RpmsgDirectReceive
{
    /// <summary>The queue whose reader this is (null: no direct receive, every message is queued).</summary>
    internal readonly RpmsgEndpointQueue? Queue;

    /// <summary>The reader's destination.</summary>
    internal readonly Span<byte> Destination;

    /// <summary>The message copied into <see cref="Destination"/>, once <see cref="Done"/>.</summary>
    internal RpmsgReceiveResult Result;

    /// <summary>True once a message was copied into <see cref="Destination"/>: the receive is over.</summary>
    internal bool Done;

    internal RpmsgDirectReceive(RpmsgEndpointQueue queue, Span<byte> destination)
    {
        Queue = queue;
        Destination = destination;
    }
}
