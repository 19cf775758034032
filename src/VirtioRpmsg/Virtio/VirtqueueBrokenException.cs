namespace VirtioRpmsg.Virtio;

/// <summary>
/// The peer wrote something into a virtqueue that breaks the protocol. The queue is marked broken
/// and every later call throws this again (same <see cref="Error"/> and message) until it is reset.
/// </summary>
public sealed class VirtqueueBrokenException : InvalidOperationException
{
    /// <summary>Creates the exception for queue <paramref name="queueName"/> broken by <paramref name="error"/>.</summary>
    public VirtqueueBrokenException(string queueName, VirtqueueError error, string message) : base(message)
    {
        QueueName = queueName;
        Error = error;
    }

    /// <summary>Name of the queue that broke.</summary>
    public string QueueName { get; }

    /// <summary>The rule the peer violated.</summary>
    public VirtqueueError Error { get; }
}
