namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A platform description is invalid: names the JSON path (e.g. "regions[1].size"), the offending
/// value as written (or "(missing)") and what is wrong with it.
/// </summary>
public sealed class PlatformDescriptionException : FormatException
{
    /// <summary>Creates the exception for the field at <paramref name="jsonPath"/> holding <paramref name="value"/>; <paramref name="source"/> names the file when known.</summary>
    public PlatformDescriptionException(string jsonPath, string value, string detail, string? source = null, Exception? innerException = null)
        : base($"Platform description{(source is null ? "" : $" '{source}'")}: {jsonPath} = {value}: {detail}.", innerException)
    {
        JsonPath = jsonPath;
        Value = value;
        Detail = detail;
        Source = source;
    }

    /// <summary>Path of the rejected field, e.g. "regions[1].size" ("$" for the whole document).</summary>
    public string JsonPath { get; }

    /// <summary>The rejected value as written in the JSON, or "(missing)".</summary>
    public string Value { get; }

    /// <summary>What is wrong, without the path and value.</summary>
    public string Detail { get; }

    /// <summary>The file the description came from, if any.</summary>
    public new string? Source { get; }

    /// <summary>The same error attributed to <paramref name="file"/>.</summary>
    internal PlatformDescriptionException WithSource(string file) => new(JsonPath, Value, Detail, file, InnerException);
}
