using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Where the firmware's resource table lives once loaded: take a lease on <see cref="Region"/> and
/// use <see cref="ResourceTable.Read"/> / <see cref="ResourceTableWriter"/> at <see cref="RegionOffset"/>.
/// </summary>
public sealed record LoadedResourceTable(ulong DeviceAddress, int Length, SharedMemoryRegion Region, long RegionOffset);
