using System.Globalization;
using System.Text;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A platform description is invalid: names the JSON path (e.g. "regions[1].size"), the offending
/// value as written (or "(missing)") and what is wrong with it. A control character (a NUL, an escape) or a lone
/// surrogate in any of them is printed as a <c>\uXXXX</c> escape, never raw (it would cut or garble a log line).
/// </summary>
public sealed class PlatformDescriptionException : FormatException
{
    /// <summary>Creates the exception for the field at <paramref name="jsonPath"/> holding <paramref name="value"/>; <paramref name="source"/> names the file when known.</summary>
    public PlatformDescriptionException(string jsonPath, string value, string detail, string? source = null, Exception? innerException = null)
        : base($"Platform description{(source is null ? "" : $" '{Printable(source)}'")}: {Printable(jsonPath)} = {Printable(value)}: {Printable(detail)}.", innerException)
    {
        JsonPath = Printable(jsonPath);
        Value = Printable(value);
        Detail = Printable(detail);
        Source = source;
    }

    /// <summary>Path of the rejected field, e.g. "regions[1].size" ("$" for the whole document).</summary>
    public string JsonPath { get; }

    /// <summary>The rejected value as written in the JSON, or "(missing)"; control characters and lone surrogates as <c>\uXXXX</c>.</summary>
    public string Value { get; }

    /// <summary>What is wrong, without the path and value.</summary>
    public string Detail { get; }

    /// <summary>The file the description came from, if any.</summary>
    public new string? Source { get; }

    /// <summary>The same error attributed to <paramref name="file"/>.</summary>
    internal PlatformDescriptionException WithSource(string file) => new(JsonPath, Value, Detail, file, InnerException);

    /// <summary><paramref name="text"/> with every control character and lone surrogate as a <c>\uXXXX</c> escape (idempotent).</summary>
    internal static string Printable(string? text)
    {
        if (text is null)
            return "";
        int i = 0;
        while (i < text.Length && !NeedsEscape(text, i))
            i++;
        if (i == text.Length)
            return text;
        var printable = new StringBuilder(text, 0, i, text.Length + 16);
        for (; i < text.Length; i++)
        {
            if (NeedsEscape(text, i))
                printable.Append("\\u").Append(((int)text[i]).ToString("X4", CultureInfo.InvariantCulture));
            else
                printable.Append(text[i]);
        }
        return printable.ToString();
    }

    private static bool NeedsEscape(string text, int i)
    {
        char c = text[i];
        if (char.IsControl(c))
            return true;
        if (char.IsHighSurrogate(c))
            return i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]);
        if (char.IsLowSurrogate(c))
            return i == 0 || !char.IsHighSurrogate(text[i - 1]);
        return false;
    }
}
