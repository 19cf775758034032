using System.Text.Json.Serialization;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The mailbox of a UIO doorbell: the registers rung outbound and acknowledged inbound. Kind-specific
/// fields are rejected on other kinds (see docs/platform-description.md).
/// </summary>
public sealed record MailboxDescription
{
    /// <summary>The controller protocol (default <see cref="MailboxKind.Register"/>).</summary>
    public MailboxKind Kind { get; init; }

    /// <summary>Name of the region holding the registers (usually a uio region).</summary>
    [JsonRequired]
    public string Region { get; init; } = "";

    /// <summary>register: offset of the mailbox register; other kinds: offset of the controller's register block in the region (4-byte aligned).</summary>
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Offset { get; init; }

    /// <summary>
    /// register: value written to ring (default 1); imxMu (data) and tiMailbox: one fixed message word for every kick,
    /// whichever vring (only for firmware that reads no word; default: a word per vring, see <see cref="VringValues"/>).
    /// </summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? Value { get; init; }

    /// <summary>
    /// imxMu (data) and tiMailbox: the words of a kick of vring 0 and of vring 1. Default (without this and
    /// <see cref="Value"/>): the Linux driver's, naming the vring by its notify id as Linux numbers them (vdev k: 2k and
    /// 2k + 1): imx_rproc's id &lt;&lt; 16 (vdev 0: 0x0, 0x10000), the TI drivers' id (0, 1).
    /// </summary>
    [JsonConverter(typeof(JsonHexArrayConverter))]
    public ulong[]? VringValues { get; init; }

    /// <summary>
    /// stm32Ipcc: the channels of vring 0 and vring 1 (0-based), each carrying its vring's kicks both ways as
    /// stm32_rproc's "vq0" and "vq1" mailboxes do. Default, without <see cref="TxChannel"/>/<see cref="RxChannel"/>: [0, 1].
    /// </summary>
    public int[]? VringChannels { get; init; }

    /// <summary>register: offset of a status register whose <see cref="StatusFullMask"/> bits mean "FIFO full".</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? StatusOffset { get; init; }

    /// <summary>register: the "FIFO full" bits of the status register (required with <see cref="StatusOffset"/>).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? StatusFullMask { get; init; }

    /// <summary>imxMu: channel rung (0-3, default 1); tiMailbox: FIFO written (0-15); stm32Ipcc: one channel set for every kick (0-5; instead of <see cref="VringChannels"/>).</summary>
    public int? TxChannel { get; init; }

    /// <summary>imxMu: channel received (0-3, default 1); tiMailbox: FIFO read (0-15); stm32Ipcc: the one channel the peer sets (0-5; instead of <see cref="VringChannels"/>).</summary>
    public int? RxChannel { get; init; }

    /// <summary>tiMailbox: the interrupt user whose line is the UIO interrupt (0-3).</summary>
    public int? User { get; init; }

    /// <summary>
    /// tiMailbox: the mailbox node's devicetree compatible, which fixes how many FIFOs and interrupt users the cluster
    /// has: "ti,am654-mailbox" (AM65x, J721E, J7200) and "ti,am64-mailbox" (AM64x, AM62x): 16 and 4;
    /// "ti,omap4-mailbox" (OMAP4/5, AM33xx, AM43xx, DRA7xx): 8 or 12 and 3 or 4 (default 8 and 3, OMAP44xx's).
    /// Without it the widest cluster (16, 4) is assumed: the counts cannot be read from the registers.
    /// </summary>
    public string? Compatible { get; init; }

    /// <summary>tiMailbox: the cluster's FIFOs (its devicetree ti,mbox-num-fifos), when <see cref="Compatible"/> allows two.</summary>
    public int? FifoCount { get; init; }

    /// <summary>tiMailbox: the cluster's interrupt users (its devicetree ti,mbox-num-users), when <see cref="Compatible"/> allows two.</summary>
    public int? UserCount { get; init; }

    /// <summary>stm32Ipcc: which processor this side is, 1 (Cortex-A, default) or 2.</summary>
    public int? Processor { get; init; }

    /// <summary>xilinxIpi: the remote agent's bit (ZynqMP RPU0: 0x100).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? PeerMask { get; init; }

    /// <summary>imxMu: "data" (TRn/RRn, default) or "generalPurpose" (GIRn/GIPn).</summary>
    public string? Signal { get; init; }

    /// <summary>imxMu: "v1" (i.MX6SX/7D/8M/8QM, default) or "v2" (i.MX8ULP/93/95).</summary>
    public string? Layout { get; init; }

    /// <summary>The i.MX signal named by <see cref="Signal"/> (already validated).</summary>
    internal ImxMuSignal ImxSignal => Is(Signal, "generalPurpose") ? ImxMuSignal.GeneralPurpose : ImxMuSignal.Data;

    // Enumerations written as strings match case-insensitively, as every enum of the description does.
    internal static bool Is(string? text, string name) => string.Equals(text, name, StringComparison.OrdinalIgnoreCase);

    /// <summary>tiMailbox: the FIFOs of the cluster (<see cref="FifoCount"/>, else the <see cref="Compatible"/>'s default; already validated).</summary>
    internal int TiFifoCount => FifoCount ?? (Compatible == "ti,omap4-mailbox" ? 8 : 16);

    /// <summary>tiMailbox: the interrupt users of the cluster (<see cref="UserCount"/>, else the <see cref="Compatible"/>'s default; already validated).</summary>
    internal int TiUserCount => UserCount ?? (Compatible == "ti,omap4-mailbox" ? 3 : 4);

    /// <summary>The i.MX layout named by <see cref="Layout"/> (already validated).</summary>
    internal ImxMuLayout ImxLayout => Is(Layout, "v2") ? ImxMuLayout.V2 : ImxMuLayout.V1;
}
