using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Options for <see cref="RpmsgLink.OpenAsync(string, RpmsgLinkOptions?, CancellationToken)"/>.</summary>
public sealed record RpmsgLinkOptions
{
    /// <summary>The default bound of every step (doorbell handshake, link-up, a channel's announcement).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Bound of each waiting step: the doorbell handshake, the remote setting up the link, and
    /// <see cref="RpmsgLink.WaitForChannelAsync(string, CancellationToken)"/>. <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>Name of the host device (log lines, dumps); unused when <c>Device</c> is given (its own name counts).</summary>
    public string Name { get; init; } = "rpmsg0";

    /// <summary>
    /// The host device's options; null takes the defaults with the description's wait strategy. When given, its
    /// <see cref="RpmsgDeviceOptions.WaitStrategy"/> wins over the description's.
    /// </summary>
    public RpmsgDeviceOptions? Device { get; init; }

    /// <summary>How long a vdev reset waits for the old device's zero-copy buffers (null: <see cref="Timeout"/>; tests shorten it).</summary>
    internal TimeSpan? ZeroCopyDrainTimeout { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the field: <see cref="ArgumentOutOfRangeException"/> for a value out of range, <see cref="ArgumentNullException"/> or <see cref="ArgumentException"/> for a missing or empty <see cref="Name"/>.</summary>
    public void Validate()
    {
        if (Timeout != System.Threading.Timeout.InfiniteTimeSpan && Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "RpmsgLinkOptions.Timeout must be positive or Timeout.InfiniteTimeSpan");
        ArgumentException.ThrowIfNullOrEmpty(Name, nameof(Name));
    }
}
