namespace VirtioRpmsg.Virtio;

/// <summary>
/// The peer wrote something into a virtqueue that breaks the protocol. The queue is marked broken
/// and every later call throws this again (same <see cref="FaultException.Fault"/>) until it is reset.
/// </summary>
public sealed class VirtqueueBrokenException : FaultException
{
    /// <summary>Creates the exception for queue <paramref name="queueName"/> broken by <paramref name="fault"/>.</summary>
    public VirtqueueBrokenException(string queueName, Fault fault) : base(fault) => QueueName = queueName;

    /// <summary>Name of the queue that broke.</summary>
    public string QueueName { get; }
}
