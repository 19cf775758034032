using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Which end of a Unix-socket doorbell this side is. JSON: "client" or "server".</summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<DoorbellSocketMode>))]
public enum DoorbellSocketMode
{
    /// <summary>Connects (OpenAMP: the host).</summary>
    Client,
    /// <summary>Listens and accepts one peer (OpenAMP: the remote).</summary>
    Server,
}
