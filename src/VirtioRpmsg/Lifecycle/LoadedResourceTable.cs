using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// Where the firmware's resource table lives once loaded: take a lease on <see cref="Region"/> and
/// use <see cref="ResourceTable.Read"/> / <see cref="ResourceTableWriter"/> at <see cref="RegionOffset"/>.
/// </summary>
/// <param name="DeviceAddress">Device address the table's bytes are loaded at: p_paddr of the PT_LOAD holding the section, plus the section's offset in it.</param>
/// <param name="Length">Size of the table section in bytes.</param>
/// <param name="Region">The mapped region that holds it, bound to the address map's generation.</param>
/// <param name="RegionOffset">Offset of the table in that region.</param>
public sealed record LoadedResourceTable(ulong DeviceAddress, int Length, RegionHandle Region, long RegionOffset);
