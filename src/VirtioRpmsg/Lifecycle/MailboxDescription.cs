using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>The outbound side of a UIO doorbell: a 32-bit mailbox register in a region.</summary>
public sealed record MailboxDescription
{
    /// <summary>Name of the region holding the registers (usually a uio region).</summary>
    [JsonRequired]
    public string Region { get; init; } = "";

    /// <summary>Offset of the mailbox register in the region (4-byte aligned).</summary>
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Offset { get; init; }

    /// <summary>Value written to ring (default 1).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? Value { get; init; }

    /// <summary>Offset of a status register whose <see cref="StatusFullMask"/> bits mean "FIFO full".</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? StatusOffset { get; init; }

    /// <summary>The "FIFO full" bits of the status register (required with <see cref="StatusOffset"/>).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? StatusFullMask { get; init; }
}
