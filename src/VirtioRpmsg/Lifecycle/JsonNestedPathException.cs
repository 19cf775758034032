using System.Text.Json;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Carries the path of an error from a nested deserialization out of a custom converter: the outer
/// serializer fills <see cref="JsonException.Path"/> with the converter's property, and
/// <see cref="InnerPath"/> (relative, e.g. "$.offset") completes it.
/// </summary>
internal sealed class JsonNestedPathException : JsonException
{
    public JsonNestedPathException(JsonException inner)
        : base(inner.Message, inner)
    {
        InnerPath = inner is JsonNestedPathException nested && nested.Path is not null ? nested.Path : inner.Path ?? "$";
    }

    public string InnerPath { get; }
}
