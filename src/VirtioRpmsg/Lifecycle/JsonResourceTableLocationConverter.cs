using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>"resourceTable": either the string "none" (null: the layout is given explicitly) or a location object.</summary>
internal sealed class JsonResourceTableLocationConverter : JsonConverter<ResourceTableLocation?>
{
    internal const string NoneText = "none";

    public override bool HandleNull => true;

    public override ResourceTableLocation? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            string text = reader.GetString()!;
            if (text == NoneText)
                return null;
            throw new JsonException($"'{text}' is neither \"{NoneText}\" nor a {{ \"region\", \"offset\" }} object");
        }
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected \"{NoneText}\" or a {{ \"region\", \"offset\" }} object, not {JsonHexConverter.Describe(reader.TokenType)}");
        try
        {
            // The converter is on the property, not the type, so this uses the plain object contract.
            return JsonSerializer.Deserialize(ref reader, PlatformJsonContext.Default.ResourceTableLocation);
        }
        catch (JsonException e)
        {
            throw new JsonNestedPathException(e);
        }
    }

    public override void Write(Utf8JsonWriter writer, ResourceTableLocation? value, JsonSerializerOptions options)
    {
        if (value is null)
            writer.WriteStringValue(NoneText);
        else
            JsonSerializer.Serialize(writer, value, PlatformJsonContext.Default.ResourceTableLocation);
    }
}
