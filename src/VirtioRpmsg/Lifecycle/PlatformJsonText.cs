using System.Text;
using System.Text.Json;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// The text-level checks of a description before its values are read: text that is not valid UTF-16 (a lone
/// surrogate char handed to <see cref="PlatformDescription.Parse"/>) and strings whose escapes decode to a lone
/// surrogate (<c>"\uD800"</c>: valid JSON syntax, but no text). Each is a <see cref="PlatformDescriptionException"/>
/// naming the field (or "$") and where it is, where the reader itself would throw an InvalidOperationException
/// or ArgumentException, or call it "the wrong JSON type".
/// </summary>
internal static class PlatformJsonText
{
    /// <summary>Throws for a lone surrogate char in <paramref name="json"/>, naming its line and column.</summary>
    internal static void CheckUtf16(string json)
    {
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (!char.IsSurrogate(c))
                continue;
            if (char.IsHighSurrogate(c) && i + 1 < json.Length && char.IsLowSurrogate(json[i + 1]))
            {
                i++;
                continue;
            }
            int line = 1, lineStart = 0;
            for (int j = 0; j < i; j++)
            {
                if (json[j] == '\n')
                {
                    line++;
                    lineStart = j + 1;
                }
            }
            throw new PlatformDescriptionException("$", $"(line {line}, character {i - lineStart + 1})",
                $"the text has a lone UTF-16 surrogate (U+{(int)c:X4}), which is no character: not valid UTF-16 text");
        }
    }

    /// <summary>Throws for the first string or property name (of syntactically valid JSON) whose escapes do not decode to text.</summary>
    internal static void CheckEscapes(string json, JsonReaderOptions options)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(utf8, options);
        // One frame per open object or array: the property being read, or the next element's index.
        var frames = new List<(bool Array, string? Name, int Index)>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    string? name = Decode(ref reader);
                    frames[^1] = (false, name ?? Raw(ref reader), 0);
                    if (name is null)
                        throw Bad(utf8, ref reader, PathOf(frames), "the property name");
                    break;
                case JsonTokenType.String:
                    if (Decode(ref reader) is null)
                        throw Bad(utf8, ref reader, PathOf(frames), "the string");
                    Next(frames);
                    break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    frames.Add((reader.TokenType == JsonTokenType.StartArray, null, 0));
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    frames.RemoveAt(frames.Count - 1);
                    Next(frames);
                    break;
                default:
                    Next(frames);
                    break;
            }
        }
    }

    private static string? Decode(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
            return Encoding.UTF8.GetString(reader.ValueSpan);
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The value as written (escapes kept), quoted.</summary>
    private static string Raw(ref Utf8JsonReader reader) => Encoding.UTF8.GetString(reader.ValueSpan);

    private static void Next(List<(bool Array, string? Name, int Index)> frames)
    {
        if (frames.Count > 0 && frames[^1].Array)
            frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
    }

    private static string PathOf(List<(bool Array, string? Name, int Index)> frames)
    {
        var path = new StringBuilder();
        foreach (var (array, name, index) in frames)
        {
            if (array)
                path.Append('[').Append(index).Append(']');
            else if (name is not null)
                path.Append(path.Length == 0 ? "" : ".").Append(name);
        }
        return path.Length == 0 ? "$" : path.ToString();
    }

    private static PlatformDescriptionException Bad(byte[] utf8, ref Utf8JsonReader reader, string path, string what)
    {
        long start = reader.TokenStartIndex;
        int line = 1;
        long lineStart = 0;
        for (long i = 0; i < start; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                line++;
                lineStart = i + 1;
            }
        }
        return new PlatformDescriptionException(path, "\"" + Raw(ref reader) + "\"",
            $"(line {line}, byte {start - lineStart + 1}) {what} has a lone UTF-16 surrogate escape (\\uD800-\\uDBFF not followed by "
            + "\\uDC00-\\uDFFF, or \\uDC00-\\uDFFF alone), which is no character; write the character itself, or both halves of its pair");
    }
}
