using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The doorbell, used in both directions (for uio: the interrupt inbound, the mailbox outbound).
/// Kind-specific fields are rejected on other kinds.
/// </summary>
public sealed record DoorbellDescription
{
    /// <summary>Which mechanism rings the peer: eventfd, Unix socket, UIO interrupt + mailbox, or polling.</summary>
    [JsonRequired]
    public PlatformDoorbellKind Kind { get; init; }

    /// <summary>unixSocket: the socket path ('@' prefix: abstract name).</summary>
    public string? Path { get; init; }

    /// <summary>unixSocket: which end this side is; default server for the remote, client for the host (as OpenAMP).</summary>
    public DoorbellSocketMode? Mode { get; init; }

    /// <summary>eventfd: abstract socket name over which the host passes the eventfd pair to the remote.</summary>
    public string? Socket { get; init; }

    /// <summary>uio: "uio0" or "/dev/uio0". Exactly one of this and <see cref="DeviceName"/>.</summary>
    public string? Device { get; init; }

    /// <summary>uio: the device's name in sysfs, searched for at open.</summary>
    public string? DeviceName { get; init; }

    /// <summary>uio: the UIO class tree (default /sys/class/uio).</summary>
    public string? SysfsRoot { get; init; }

    /// <summary>uio: the mailbox register rung outbound; without it the doorbell can only wait.</summary>
    public MailboxDescription? Mailbox { get; init; }
}
