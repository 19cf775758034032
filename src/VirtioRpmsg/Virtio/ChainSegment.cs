using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Virtio;

/// <summary>
/// One validated descriptor of a chain the device took: the region holding the whole buffer (bound to
/// the generation of the queue's address map, so a lease through it fails after an unmap/remap), the
/// offset in it, the length and the direction. Built from the device's private copy of the descriptor.
/// </summary>
public readonly struct ChainSegment
{
    internal ChainSegment(RegionHandle region, long offset, uint length, ulong deviceAddress, bool deviceWritable)
    {
        Region = region;
        Offset = offset;
        Length = length;
        DeviceAddress = deviceAddress;
        DeviceWritable = deviceWritable;
    }

    /// <summary>The registered region the buffer lies wholly inside, with its bound generation (take leases through it).</summary>
    public RegionHandle Region { get; }

    /// <summary>Offset of the buffer in <see cref="Region"/>.</summary>
    public long Offset { get; }

    /// <summary>Length in bytes (a span over it needs <c>(int)Length</c>; lengths above 2 GiB need chunking).</summary>
    public uint Length { get; }

    /// <summary>The descriptor's device address.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>True if the device may write the buffer, false if it may only read it.</summary>
    public bool DeviceWritable { get; }

    /// <summary>Region, offset, length and direction, for logs.</summary>
    public override string ToString() => $"'{Region.Region?.Name}'+0x{Offset:X} len 0x{Length:X} {(DeviceWritable ? "W" : "R")}";
}
