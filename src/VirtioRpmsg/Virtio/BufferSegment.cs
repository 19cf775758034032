namespace VirtioRpmsg.Virtio;

/// <summary>One buffer of a chain the driver posts: device address, length, and who writes it.</summary>
public readonly struct BufferSegment
{
    /// <summary>A buffer at <paramref name="deviceAddress"/> of <paramref name="length"/> bytes that the device reads, or writes when <paramref name="deviceWritable"/>.</summary>
    public BufferSegment(ulong deviceAddress, uint length, bool deviceWritable)
    {
        DeviceAddress = deviceAddress;
        Length = length;
        DeviceWritable = deviceWritable;
    }

    /// <summary>Device address of the first byte.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Length in bytes.</summary>
    public uint Length { get; }

    /// <summary>True if the device writes it (receive buffer), false if it reads it (send buffer).</summary>
    public bool DeviceWritable { get; }

    /// <summary>Range and direction, for logs.</summary>
    public override string ToString() => $"[0x{DeviceAddress:X}, +0x{Length:X}) {(DeviceWritable ? "device-writable" : "device-readable")}";
}
