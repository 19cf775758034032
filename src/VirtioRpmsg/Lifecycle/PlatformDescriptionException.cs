using VirtioRpmsg.Platform;

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
        : base($"Platform description{(source is null ? "" : $" '{PrintableText.Of(source)}'")}: {PrintableText.Of(jsonPath)} = {PrintableText.Of(value)}: {PrintableText.Of(detail)}.", innerException)
    {
        JsonPath = PrintableText.Of(jsonPath);
        Value = PrintableText.Of(value);
        Detail = PrintableText.Of(detail);
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
}
