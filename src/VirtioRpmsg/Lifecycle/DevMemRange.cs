using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>A physical range a devMem region may map (the allow-list guards against mapping arbitrary RAM or registers).</summary>
public sealed record DevMemRange
{
    /// <summary>First physical address of the allowed range.</summary>
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Start { get; init; }

    /// <summary>Length of the allowed range in bytes.</summary>
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Size { get; init; }
}
