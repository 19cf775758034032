using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Turns JSON into a validated <see cref="PlatformDescription"/>: (1) syntax, (2) shape against the
/// source-generated contract (unknown, duplicate and missing required properties, each with its exact
/// path), (3) deserialization (type errors; the path comes from the serializer, the value from the
/// document), (4) the cross-field rules of <see cref="PlatformDescriptionValidator"/>.
/// </summary>
internal static class PlatformJsonReader
{
    private const int MaxValueText = 80;

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    internal static PlatformDescription Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        // A byte order mark decoded as text (Encoding.UTF8.GetString of a file's bytes): Load drops it when it decodes
        // the file, and so does this, rather than report "'0xEF' is an invalid start of a value" of a text without 0xEF.
        if (json.StartsWith('\uFEFF'))
            json = json[1..];
        PlatformJsonText.CheckUtf16(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new PlatformDescriptionException("$", $"(line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})", "not valid JSON: " + e.Message, innerException: e);
        }
        using (document)
        {
            PlatformJsonText.CheckEscapes(json, ReaderOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new PlatformDescriptionException("$", Show(document.RootElement), "the description must be a JSON object");
            bool nullDefaults = false;
            CheckShape(document.RootElement, PlatformJsonContext.Default.PlatformDescription, "", ref nullDefaults);
            PlatformDescription? description;
            try
            {
                description = JsonSerializer.Deserialize(nullDefaults ? WithoutNullDefaults(json) : json, PlatformJsonContext.Default.PlatformDescription);
            }
            catch (JsonException e)
            {
                string path = ToPath(e);
                // Our converters say what is wrong; the serializer's own messages only restate the path.
                string detail = e.Message.Contains("Path:", StringComparison.Ordinal) ? "the value has the wrong JSON type for this field" : e.Message;
                throw new PlatformDescriptionException(path, ValueAt(document.RootElement, path), detail, innerException: e);
            }
            PlatformDescriptionValidator.Validate(description!);
            return description!;
        }
    }

    /// <summary>
    /// Unknown, duplicate and missing properties, and null for a required one. Null for an optional property is the property
    /// left out; <paramref name="nullDefaults"/> is set when one of them is a plain value type (waitStrategy, barriers), which
    /// the serializer would try to read null into.
    /// </summary>
    private static void CheckShape(JsonElement element, JsonTypeInfo info, string path, ref bool nullDefaults)
    {
        if (element.ValueKind == JsonValueKind.Object && info.Kind == JsonTypeInfoKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var member in element.EnumerateObject())
            {
                string childPath = Join(path, member.Name);
                if (!seen.Add(member.Name))
                    throw new PlatformDescriptionException(childPath, Show(member.Value), "the property appears twice");
                var property = info.Properties.FirstOrDefault(p => p.Name == member.Name && Readable(p))
                    ?? throw new PlatformDescriptionException(childPath, Show(member.Value),
                        $"unknown property; expected one of {string.Join(", ", info.Properties.Where(Readable).Select(p => p.Name))}");
                if (member.Value.ValueKind != JsonValueKind.Null)
                    CheckShape(member.Value, info.Options.GetTypeInfo(property.PropertyType), childPath, ref nullDefaults);
                else if (property.IsRequired)
                    throw new PlatformDescriptionException(childPath, "null", "required property is null");
                else
                    nullDefaults |= IsPlainValueType(property);
            }
            foreach (var property in info.Properties)
            {
                if (property.IsRequired && !seen.Contains(property.Name))
                    throw new PlatformDescriptionException(Join(path, property.Name), "(missing)", "required property is missing");
            }
        }
        else if (element.ValueKind == JsonValueKind.Array && info.Kind == JsonTypeInfoKind.Enumerable && info.ElementType is { } elementType)
        {
            var elementInfo = info.Options.GetTypeInfo(elementType);
            int i = 0;
            foreach (var item in element.EnumerateArray())
                CheckShape(item, elementInfo, $"{path}[{i++}]", ref nullDefaults);
        }
    }

    private static bool IsPlainValueType(JsonPropertyInfo property) =>
        property.PropertyType.IsValueType && Nullable.GetUnderlyingType(property.PropertyType) is null;

    /// <summary>The document without the null optional properties of plain value types: left out, they keep their defaults.</summary>
    private static string WithoutNullDefaults(string json)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(json, documentOptions: DocumentOptions)!;
        DropNullDefaults(root, PlatformJsonContext.Default.PlatformDescription);
        return root.ToJsonString();
    }

    private static void DropNullDefaults(System.Text.Json.Nodes.JsonNode? node, JsonTypeInfo info)
    {
        if (node is System.Text.Json.Nodes.JsonObject obj && info.Kind == JsonTypeInfoKind.Object)
        {
            foreach (var (name, value) in obj.ToArray())
            {
                var property = info.Properties.First(p => p.Name == name && Readable(p));
                if (value is null && IsPlainValueType(property))
                    obj.Remove(name);
                else
                    DropNullDefaults(value, info.Options.GetTypeInfo(property.PropertyType));
            }
        }
        else if (node is System.Text.Json.Nodes.JsonArray array && info.Kind == JsonTypeInfoKind.Enumerable && info.ElementType is { } elementType)
        {
            var elementInfo = info.Options.GetTypeInfo(elementType);
            foreach (var item in array)
                DropNullDefaults(item, elementInfo);
        }
    }

    // The contract lists get-only [JsonIgnore] properties too (VdevCount, EffectiveFeatures) with no setter: the
    // serializer would drop them silently, so for the document they are unknown.
    private static bool Readable(JsonPropertyInfo property) => property.Set is not null;

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    /// <summary>"$.regions[1].size" to "regions[1].size", completed by a nested converter's inner path.</summary>
    private static string ToPath(JsonException e)
    {
        string path = Strip(e.Path);
        if (e is JsonNestedPathException nested)
        {
            string inner = Strip(nested.InnerPath);
            path = inner.Length == 0 ? path : path.Length == 0 ? inner : inner.StartsWith('[') ? path + inner : path + "." + inner;
        }
        return path.Length == 0 ? "$" : path;
    }

    private static string Strip(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
            return "";
        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    /// <summary>The value at <paramref name="path"/> as written, or "(missing)" when the path does not resolve.</summary>
    private static string ValueAt(JsonElement root, string path)
    {
        var current = root;
        if (path == "$")
            return Show(current);
        int i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
                i++;
            if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                int end = path.IndexOf("']", i, StringComparison.Ordinal);
                if (end < 0 || !TryProperty(ref current, path[(i + 2)..end]))
                    return "(missing)";
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    || current.ValueKind != JsonValueKind.Array || index >= current.GetArrayLength())
                    return "(missing)";
                current = current[index];
                i = end + 1;
            }
            else
            {
                int end = path.IndexOfAny(['.', '['], i);
                if (end < 0)
                    end = path.Length;
                if (!TryProperty(ref current, path[i..end]))
                    return "(missing)";
                i = end;
            }
        }
        return Show(current);
    }

    private static bool TryProperty(ref JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var child))
            return false;
        element = child;
        return true;
    }

    private static string Show(JsonElement element)
    {
        string raw = element.GetRawText();
        if (raw.Length <= MaxValueText)
            return raw;
        var shortened = new StringBuilder(raw, 0, MaxValueText, MaxValueText + 3);
        return shortened.Append("...").ToString();
    }
}
