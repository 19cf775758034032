using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// An address or size: a JSON number, or a string holding a hex ("0x4000") or decimal number,
/// because JSON has no hex literals and addresses read best in hex. Written as a hex string.
/// "ADDR_ANY" is accepted (as 0xFFFFFFFF) when <see cref="AllowAddrAny"/> is set.
/// </summary>
internal class JsonHexConverter : JsonConverter<ulong>
{
    /// <summary>The JSON spelling of <see cref="ResourceTable.AddrAny"/>.</summary>
    internal const string AddrAnyText = "ADDR_ANY";

    protected virtual bool AllowAddrAny => false;

    public override ulong Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetUInt64(out ulong number))
                return number;
            throw new JsonException($"{Raw(ref reader)} is not a whole number between 0 and 0x{ulong.MaxValue:X}");
        }
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException($"expected a number or a \"0x...\" string, not {Describe(reader.TokenType)}");
        string text = reader.GetString()!;
        if (AllowAddrAny && text == AddrAnyText)
            return ResourceTable.AddrAny;
        if (TryParse(text, out ulong value))
            return value;
        throw new JsonException($"'{text}' is not a number (write 0x4000 or 16384{(AllowAddrAny ? ", or ADDR_ANY" : "")})");
    }

    public override void Write(Utf8JsonWriter writer, ulong value, JsonSerializerOptions options)
    {
        if (AllowAddrAny && value == ResourceTable.AddrAny)
            writer.WriteStringValue(AddrAnyText);
        else
            writer.WriteStringValue("0x" + value.ToString("X", CultureInfo.InvariantCulture));
    }

    internal static bool TryParse(string text, out ulong value)
    {
        // .NET's number parsing ignores trailing NULs ("0x1000\0" would read as 0x1000): a NUL is never part of a number.
        if (text.Contains('\0'))
        {
            value = 0;
            return false;
        }
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A token type as a reader of the JSON would call it.</summary>
    internal static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Number => "a number",
        JsonTokenType.String => "a string",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string Raw(ref Utf8JsonReader reader) => System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
}
