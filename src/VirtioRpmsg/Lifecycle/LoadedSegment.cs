using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Where a PT_LOAD segment was placed: region, offset in it, and how much was copied vs zero-filled.</summary>
/// <param name="SegmentIndex">Index of the program header.</param>
/// <param name="DeviceAddress">Device address the segment was loaded at.</param>
/// <param name="Region">The region it went into, bound to the address map's generation.</param>
/// <param name="RegionOffset">Offset of the segment in that region.</param>
/// <param name="FileSize">Bytes copied from the file.</param>
/// <param name="MemorySize">Bytes occupied; those after FileSize were zeroed.</param>
public sealed record LoadedSegment(int SegmentIndex, ulong DeviceAddress, RegionHandle Region, long RegionOffset, ulong FileSize, ulong MemorySize);
