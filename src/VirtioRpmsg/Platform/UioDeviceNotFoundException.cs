namespace VirtioRpmsg.Platform;

/// <summary>A UIO device (its sysfs entry or its /dev node) does not exist.</summary>
public sealed class UioDeviceNotFoundException : FileNotFoundException
{
    public UioDeviceNotFoundException(string path, string detail, Exception? inner = null)
        : base($"UIO device not found: '{path}' {detail}", path, inner)
    {
    }
}
