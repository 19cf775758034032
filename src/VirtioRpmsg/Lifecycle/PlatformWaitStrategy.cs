using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// How the rpmsg layer waits for the peer. The members match the rpmsg layer's wait-strategy enum
/// one to one (same names, same order). JSON: the member name, case-insensitive ("interrupt", "BusyPoll").
/// </summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformWaitStrategy>))]
public enum PlatformWaitStrategy
{
    /// <summary>Sleep on the doorbell.</summary>
    Interrupt,
    /// <summary>Spin on shared memory, never sleep.</summary>
    BusyPoll,
    /// <summary>Spin briefly, then sleep on the doorbell.</summary>
    Hybrid,
    /// <summary>The application drives progress by calling a poll method.</summary>
    CallerPoll,
}
