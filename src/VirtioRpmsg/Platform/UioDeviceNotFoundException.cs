namespace VirtioRpmsg.Platform;

/// <summary>A UIO device (its sysfs entry or its /dev node) does not exist.</summary>
public sealed class UioDeviceNotFoundException : FileNotFoundException
{
    /// <summary>Creates the exception for the missing <paramref name="path"/>; <paramref name="detail"/> says what was looked for.</summary>
    public UioDeviceNotFoundException(string path, string detail, Exception? inner = null)
        : base($"UIO device not found: '{path}' {detail}", path, inner)
    {
    }
}
