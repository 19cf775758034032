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

    // Internal on purpose: a handle is what translation and chain segments give out, and it must not
    // lead back to the region's own (current-generation) Acquire. Name, device address and identity
    // are all a caller needs.
    internal SharedMemoryRegion Region { get; }

    /// <summary>The region's name (for messages and logs).</summary>
    public string Name => Region?.Name ?? "";

    /// <summary>Device address of the region's first byte.</summary>
    public ulong DeviceAddress => Region?.DeviceAddress ?? 0;

    /// <summary>Size of the region in bytes.</summary>
    public long Size => Region?.Size ?? 0;

    /// <summary>True if this handle refers to <paramref name="region"/> (at any generation).</summary>
    public bool Refers(SharedMemoryRegion region) => Region is not null && ReferenceEquals(Region, region);

    /// <summary>The generation this handle is bound to.</summary>
    public int Generation { get; }

    /// <summary>True while the region is mapped at this handle's generation.</summary>
    public bool IsCurrent => Region is not null && Region.IsMapped && Region.Generation == Generation;

    /// <summary>
    /// Takes a lease; throws <see cref="RegionClosedException"/> or <see cref="StaleMappingException"/>
    /// (<see cref="InvalidOperationException"/> for a default handle, bound to no region).
    /// </summary>
    public MappingLease Acquire() => (Region ?? throw Unbound()).Acquire(Generation);

    /// <summary>Takes a lease if the region is still mapped at this generation (a default handle throws, as for <see cref="Acquire"/>).</summary>
    public bool TryAcquire(out MappingLease lease) => (Region ?? throw Unbound()).TryAcquire(Generation, out lease);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static InvalidOperationException Unbound() =>
        new("This RegionHandle is bound to no region (a default value); bind one with SharedMemoryRegion.Bind().");
}
