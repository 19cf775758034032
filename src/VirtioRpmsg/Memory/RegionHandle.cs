namespace VirtioRpmsg.Memory;

/// <summary>
/// A region together with the mapping generation an object was built against. Every lease taken
/// through it checks the generation, so an object from before an unmap/remap fails with
/// <see cref="StaleMappingException"/> instead of touching the new mapping.
/// </summary>
public readonly struct RegionHandle
{
    /// <summary>Binds <paramref name="region"/> at <paramref name="generation"/>; usually obtained from <see cref="SharedMemoryRegion.Bind"/>.</summary>
    public RegionHandle(SharedMemoryRegion region, int generation)
    {
        Region = region ?? throw new ArgumentNullException(nameof(region));
        Generation = generation;
    }

    /// <summary>The region.</summary>
    public SharedMemoryRegion Region { get; }

    /// <summary>The generation this handle is bound to.</summary>
    public int Generation { get; }

    /// <summary>True while the region is mapped at this handle's generation.</summary>
    public bool IsCurrent => Region is not null && Region.IsMapped && Region.Generation == Generation;

    /// <summary>Takes a lease; throws <see cref="RegionClosedException"/> or <see cref="StaleMappingException"/>.</summary>
    public MappingLease Acquire() => Region.Acquire(Generation);

    /// <summary>Takes a lease if the region is still mapped at this generation.</summary>
    public bool TryAcquire(out MappingLease lease) => Region.TryAcquire(Generation, out lease);
}
