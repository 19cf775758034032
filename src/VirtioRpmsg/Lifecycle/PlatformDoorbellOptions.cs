using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>What <see cref="PlatformResources.CreateDoorbell(PlatformDoorbellOptions?)"/> needs beyond the description.</summary>
public sealed record PlatformDoorbellOptions
{
    /// <summary>Upper bound for connecting, accepting or receiving the doorbell.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// eventfd: the channel to the peer. The host creates the pair and sends the peer's end over it;
    /// the remote receives its end. Not owned. Without it (and without <see cref="EventFdFactory"/>)
    /// the description's doorbell.socket name sets up the channel, kept open for the doorbell's life (it tells each
    /// side when the other has gone) and closed by its <see cref="IDisposable.Dispose"/>.
    /// </summary>
    public DescriptorPassing? Passing { get; init; }

    /// <summary>eventfd: makes the doorbell instead (in-process loopback, tests).</summary>
    public Func<IDoorbell>? EventFdFactory { get; init; }

    /// <summary>polling: the "has work" predicate (required for a polling doorbell).</summary>
    public Func<bool>? HasWork { get; init; }

    /// <summary>Cancels a doorbell set-up that waits for the peer (socket accept or connect, descriptor passing).</summary>
    public CancellationToken CancellationToken { get; init; }
}
