using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Where the resource table lives: a region and an offset in it (JSON "none" instead: no table).</summary>
public sealed record ResourceTableLocation
{
    /// <summary>Default number of bytes read as the table when <see cref="Size"/> is not given.</summary>
    public const ulong DefaultSize = 0x400;

    /// <summary>Name of the region that holds the table.</summary>
    [JsonRequired]
    public string Region { get; init; } = "";

    /// <summary>Byte offset of the table in the region (4-byte aligned).</summary>
    [JsonRequired]
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong Offset { get; init; }

    /// <summary>Bytes reserved for the table (every offset in it is checked against this); default 0x400, cut at the region end.</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? Size { get; init; }
}
