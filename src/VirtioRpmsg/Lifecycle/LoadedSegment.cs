using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Where a PT_LOAD segment was placed: region, offset in it, and how much was copied vs zero-filled.</summary>
public sealed record LoadedSegment(int SegmentIndex, ulong DeviceAddress, SharedMemoryRegion Region, long RegionOffset, ulong FileSize, ulong MemorySize);
