using System.Text.Json;
using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Reads an enum from its member name (case-insensitive) and writes it camelCased. Numbers are
/// rejected: a kind written as 2 says nothing a reader can check. Uses only the generic enum APIs,
/// so it is trim- and AOT-safe.
/// </summary>
internal sealed class JsonCamelCaseEnumConverter<TEnum> : JsonConverter<TEnum>
    where TEnum : struct, Enum
{
    private static readonly TEnum[] Values = Enum.GetValues<TEnum>();
    private static readonly string[] Names = Values.Select(v => JsonNamingPolicy.CamelCase.ConvertName(v.ToString())).ToArray();

    /// <summary>The accepted names, for error messages ("a", "b" or "c").</summary>
    internal static string Expected => string.Join(", ", Names.Select(n => $"\"{n}\""));

    public override TEnum Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException($"expected one of {Expected}, not {JsonHexConverter.Describe(reader.TokenType)}");
        string text = reader.GetString()!;
        for (int i = 0; i < Names.Length; i++)
        {
            if (string.Equals(Names[i], text, StringComparison.OrdinalIgnoreCase))
                return Values[i];
        }
        throw new JsonException($"'{text}' is not one of {Expected}");
    }

    public override void Write(Utf8JsonWriter writer, TEnum value, JsonSerializerOptions options)
    {
        int i = Array.IndexOf(Values, value);
        if (i < 0)
            throw new JsonException($"{value} is not a defined {typeof(TEnum).Name}");
        writer.WriteStringValue(Names[i]);
    }
}
