namespace VirtioRpmsg.Lifecycle;

/// <summary>A devmem entry: a device memory range the remote wants mapped.</summary>
public sealed record DevmemEntry(int Index, int Offset, uint DeviceAddress, uint PhysicalAddress, uint Length, uint Flags, string Name)
    : MemoryResourceEntry(Index, Offset, DeviceAddress, PhysicalAddress, Length, Flags, Name)
{
    /// <summary>Always <see cref="ResourceType.Devmem"/> (1).</summary>
    public override uint TypeCode => (uint)ResourceType.Devmem;
}
