using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>A physical range a devMem region may map (the allow-list guards against mapping arbitrary RAM or registers).</summary>
public sealed record DevMemRange
{
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Start { get; init; }

    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Size { get; init; }
}
