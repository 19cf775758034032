namespace VirtioRpmsg.Lifecycle;

/// <summary>A carveout: memory the remote needs allocated (da/pa may be ADDR_ANY).</summary>
public sealed record CarveoutEntry(int Index, int Offset, uint DeviceAddress, uint PhysicalAddress, uint Length, uint Flags, string Name)
    : MemoryResourceEntry(Index, Offset, DeviceAddress, PhysicalAddress, Length, Flags, Name)
{
    /// <summary>Always <see cref="ResourceType.Carveout"/> (0).</summary>
    public override uint TypeCode => (uint)ResourceType.Carveout;
}
