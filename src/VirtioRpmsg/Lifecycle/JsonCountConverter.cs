using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A count, index or channel (every int of the description): a plain JSON number that is a whole 32-bit number. Says
/// what is wrong with any other value ("4294967296 is not a whole number ...", "write 256, not \"256\""), where the
/// serializer's own converter only says that the path could not be converted.
/// </summary>
internal sealed class JsonCountConverter : JsonConverter<int>
{
    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt32(out int number))
                return number;
            throw new JsonException($"{System.Text.Encoding.UTF8.GetString(reader.ValueSpan)} is not a whole number between {int.MinValue} and {int.MaxValue}");
        }
        if (reader.TokenType == JsonTokenType.String)
            throw new JsonException($"expected a plain number, not a string (counts are plain numbers: write {Example(reader.GetString())}, not \"{reader.GetString()}\")");
        throw new JsonException($"expected a whole number, not {JsonHexConverter.Describe(reader.TokenType)}");
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);

    private static string Example(string? text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n.ToString(CultureInfo.InvariantCulture) : "256";
}
