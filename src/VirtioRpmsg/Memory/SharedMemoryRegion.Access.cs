namespace VirtioRpmsg.Memory;

// The region's memory type (Normal or Device) and barrier domain: fixed at creation, read by every lease
// (memory type) and every vring placed in the region (barriers).
public sealed partial class SharedMemoryRegion
{
    /// <summary>
    /// Normal or Device memory. Defaults by backing: UIO maps and O_SYNC <c>/dev/mem</c> are Device memory
    /// (uncached on ARM64); memfd, files and anonymous memory are Normal. A platform description can declare it.
    /// </summary>
    public SharedMemoryType MemoryType { get; }

    /// <summary>Barrier strength of the vrings in this region (see <see cref="BarrierDomain"/>).</summary>
    public BarrierDomain Barriers { get; }

    /// <summary>Checking mode (tests): every access is reported here; null otherwise.</summary>
    internal MemoryAccessChecker? Checker { get; }

    /// <summary>True when leases must use the aligned Device-memory accessors (Device memory, or checking mode).</summary>
    internal bool UsesDeviceAccess => MemoryType == SharedMemoryType.Device || Checker is not null;

    /// <summary>The memory type a backing has unless declared otherwise.</summary>
    public static SharedMemoryType DefaultMemoryType(RegionBacking backing) =>
        backing is RegionBacking.Uio or RegionBacking.DevMem ? SharedMemoryType.Device : SharedMemoryType.Normal;

    // What a factory was told; null memory type means the backing's default.
    private readonly record struct RegionAccess(SharedMemoryType? MemoryType, BarrierDomain Barriers)
    {
        internal static RegionAccess Of(SharedMemoryType? memoryType, BarrierDomain barriers)
        {
            if (memoryType is { } t && !Enum.IsDefined(t))
                throw new ArgumentOutOfRangeException(nameof(memoryType), t, "Unknown shared-memory type.");
            if (!Enum.IsDefined(barriers))
                throw new ArgumentOutOfRangeException(nameof(barriers), barriers, "Unknown barrier domain.");
            return new(memoryType, barriers);
        }
    }
}
