using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>A JSON array of <see cref="JsonHexConverter"/> values (numbers, or "0x..." strings).</summary>
internal sealed class JsonHexArrayConverter : JsonConverter<ulong[]>
{
    private static readonly JsonHexConverter Element = new();

    public override ulong[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException($"expected an array of numbers or \"0x...\" strings, not {JsonHexConverter.Describe(reader.TokenType)}");
        var values = new List<ulong>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            values.Add(Element.Read(ref reader, typeof(ulong), options));
        return [.. values];
    }

    public override void Write(Utf8JsonWriter writer, ulong[] value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (ulong v in value)
            Element.Write(writer, v, options);
        writer.WriteEndArray();
    }
}
