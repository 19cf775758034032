using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Options for <see cref="PlatformResources.Open"/>.</summary>
public sealed record PlatformOpenOptions
{
    /// <summary>
    /// Channel for memfd regions: the host sends each one it creates, the remote receives each one
    /// (required for a remote with a memfd region). Not owned: the caller disposes it.
    /// </summary>
    public DescriptorPassing? Passing { get; init; }

    /// <summary>Upper bound for receiving a memfd region from the peer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A host reads (and, for ADDR_ANY vrings, writes back) the resource table during Open. False
    /// defers that to <see cref="PlatformResources.LoadResourceTable"/>, for a remote that has not
    /// written its table yet.
    /// </summary>
    public bool ReadResourceTable { get; init; } = true;

    /// <summary>Cancels an open that waits for the peer (receiving a memfd region).</summary>
    public CancellationToken CancellationToken { get; init; }
}
