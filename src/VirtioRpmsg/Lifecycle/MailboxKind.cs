using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Which controller protocol a uio doorbell's mailbox speaks. JSON: "register", "imxMu", "tiMailbox", "stm32Ipcc", "xilinxIpi".</summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<MailboxKind>))]
public enum MailboxKind
{
    /// <summary>One register written to ring, optionally a "FIFO full" status; no receive side (<see cref="Platform.UioMailbox"/>).</summary>
    Register,
    /// <summary>NXP i.MX Messaging Unit (<see cref="Platform.ImxMessagingUnit"/>).</summary>
    ImxMu,
    /// <summary>TI OMAP4 / K3 mailbox (<see cref="Platform.TiMailbox"/>).</summary>
    TiMailbox,
    /// <summary>ST STM32MP1 IPCC (<see cref="Platform.Stm32Ipcc"/>).</summary>
    Stm32Ipcc,
    /// <summary>Xilinx ZynqMP / Versal IPI (<see cref="Platform.XilinxIpi"/>).</summary>
    XilinxIpi,
}
