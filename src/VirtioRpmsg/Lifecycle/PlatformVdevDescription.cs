using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One more rpmsg vdev of the same remote processor (<see cref="PlatformDescription.AdditionalVdevs"/>):
/// its own vrings and buffer pool in the same memory, and its own doorbell channel. Fields as the
/// description's <see cref="PlatformDescription.Vdev"/> and <see cref="PlatformDescription.Doorbell"/>.
/// </summary>
public sealed record PlatformVdevDescription
{
    /// <summary>Where this vdev's vrings and buffer pool are.</summary>
    [JsonRequired]
    public VdevLayoutDescription Vdev { get; init; } = new();

    /// <summary>How each side signals the other for this vdev (never shared with another vdev).</summary>
    [JsonRequired]
    public DoorbellDescription Doorbell { get; init; } = new();
}
