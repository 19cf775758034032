using System.Globalization;
using System.Text;

namespace VirtioRpmsg.Platform;

/// <summary>
/// Text read from a file or a peer, made safe to print in an exception message or a log line: a control character
/// (a NUL, an escape) would cut or garble the line, a bidirectional override would reorder it, a lone surrogate is no
/// character at all.
/// </summary>
internal static class PrintableText
{
    /// <summary><paramref name="text"/> with every control character, bidirectional formatting character and lone surrogate as a <c>\uXXXX</c> escape (idempotent).</summary>
    internal static string Of(string? text)
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
        if (char.IsControl(c) || IsBidiControl(c))
            return true;
        if (char.IsHighSurrogate(c))
            return i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]);
        if (char.IsLowSurrogate(c))
            return i == 0 || !char.IsHighSurrogate(text[i - 1]);
        return false;
    }

    // The bidirectional formatting characters (embeddings, overrides, isolates, marks): printed raw they reorder what a
    // terminal or an editor shows around them, so a peer's name could make a line read as something else.
    private static bool IsBidiControl(char c) =>
        c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    /// <summary><see cref="Of"/> in double quotes, cut after <paramref name="max"/> characters (then its length is said).</summary>
    internal static string Quoted(string value, int max)
    {
        string shown = $"\"{Of(value.Length > max ? value[..max] : value)}\"";
        return value.Length > max ? $"{shown}... ({value.Length} characters)" : shown;
    }
}
