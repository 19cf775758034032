using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Source-generated (trim- and AOT-safe) JSON contract of <see cref="PlatformDescription"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    Converters = [typeof(JsonCountConverter)])]
[JsonSerializable(typeof(PlatformDescription))]
[JsonSerializable(typeof(ResourceTableLocation))]
internal sealed partial class PlatformJsonContext : JsonSerializerContext;
