namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A well-formed firmware image cannot be placed into the mapped memory: a segment (or the resource
/// table) is not wholly inside one region of the address map.
/// </summary>
public sealed class FirmwareLoadException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="what"/> (a segment or section) whose range <paramref name="deviceAddress"/> + <paramref name="length"/> could not be placed.</summary>
    public FirmwareLoadException(string what, ulong deviceAddress, ulong length, string detail)
        : base($"Firmware load: {what} [0x{deviceAddress:X}, +0x{length:X}) {detail}.")
    {
        What = what;
        DeviceAddress = deviceAddress;
        Length = length;
    }

    /// <summary>What could not be placed, e.g. "segment 2" or "section .resource_table".</summary>
    public string What { get; }

    /// <summary>Device address of the rejected range.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Length of the rejected range.</summary>
    public ulong Length { get; }
}
