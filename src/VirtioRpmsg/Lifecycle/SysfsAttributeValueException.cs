using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A remoteproc sysfs attribute read back a value that is not one of the words the kernel writes there (a newer kernel,
/// a hostile or broken file). Carries the device, the attribute, its path and the value read; the message shows the
/// value with control characters escaped and says which words were expected. Nothing was written because of it.
/// </summary>
public sealed class SysfsAttributeValueException : IOException
{
    private const int MaxShown = 64;

    internal SysfsAttributeValueException(string device, string path, string attribute, string value, string expected, string? consequence = null)
        : base($"remoteproc '{device}': '{path}' says {Show(value)}, not {expected}" + (consequence is null ? "." : $"; {consequence}."))
    {
        Device = device;
        Path = path;
        Attribute = attribute;
        Value = value;
    }

    /// <summary>The remoteproc device, e.g. "remoteproc0".</summary>
    public string Device { get; }

    /// <summary>The attribute file read.</summary>
    public string Path { get; }

    /// <summary>The attribute name ("state", "recovery", "coredump").</summary>
    public string Attribute { get; }

    /// <summary>The value read (whitespace trimmed), as it was.</summary>
    public string Value { get; }

    /// <summary>The value quoted, control characters and lone surrogates escaped, cut after <see cref="MaxShown"/> characters.</summary>
    internal static string Show(string value) => PrintableText.Quoted(value, MaxShown);
}
