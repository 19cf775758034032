namespace VirtioRpmsg.Lifecycle;

/// <summary>A vring entry to put into a table with <see cref="ResourceTableBuilder"/>.</summary>
public readonly record struct VringSpec(uint DeviceAddress, uint Align, uint Num, uint NotifyId, uint PhysicalAddress);
