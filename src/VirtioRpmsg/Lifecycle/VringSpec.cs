namespace VirtioRpmsg.Lifecycle;

/// <summary>A vring entry to put into a table with <see cref="ResourceTableBuilder"/>.</summary>
/// <param name="DeviceAddress">da of the vring (0xFFFFFFFF: the host chooses).</param>
/// <param name="Align">Alignment of the used ring.</param>
/// <param name="Num">Entries in the vring.</param>
/// <param name="NotifyId">Notify id used to kick this vring.</param>
/// <param name="PhysicalAddress">pa (often equal to da).</param>
public readonly record struct VringSpec(uint DeviceAddress, uint Align, uint Num, uint NotifyId, uint PhysicalAddress);
