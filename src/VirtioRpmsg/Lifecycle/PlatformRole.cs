using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Which side of the rpmsg link this process is. JSON: "host" or "remote".</summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformRole>))]
public enum PlatformRole
{
    /// <summary>The virtio driver: owns the buffer pool, reads the resource table, chooses ADDR_ANY addresses.</summary>
    Host,
    /// <summary>The virtio device: writes the resource table (OpenAMP's remote does), serves the socket doorbell.</summary>
    Remote,
}
