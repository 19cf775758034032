namespace VirtioRpmsg.Memory;

/// <summary>
/// The region is unmapped (or being unmapped): no lease can be taken and no access is possible.
/// This is the documented outcome for an access that races with <see cref="SharedMemoryRegion.Unmap()"/>.
/// </summary>
public class RegionClosedException : InvalidOperationException
{
    /// <summary>Creates the exception for region <paramref name="regionName"/>, refused at <paramref name="generation"/>.</summary>
    public RegionClosedException(string regionName, int generation)
        : this(regionName, generation, $"Shared-memory region '{regionName}' is unmapped (generation {generation}); no access is possible.")
    {
    }

    /// <summary>For subclasses: the same fields with their own message.</summary>
    protected RegionClosedException(string regionName, int generation, string message) : base(message)
    {
        RegionName = regionName;
        Generation = generation;
    }

    /// <summary>The region's name.</summary>
    public string RegionName { get; }

    /// <summary>The region's generation when the access was refused.</summary>
    public int Generation { get; }
}

/// <summary>
/// An object bound to an older mapping generation tried to access a region that has since been
/// unmapped and mapped again. It fails instead of touching the newer mapping.
/// </summary>
public sealed class StaleMappingException : RegionClosedException
{
    /// <summary>Creates the exception for an object bound at <paramref name="boundGeneration"/> meeting the region at <paramref name="currentGeneration"/>.</summary>
    public StaleMappingException(string regionName, int boundGeneration, int currentGeneration)
        : base(regionName, currentGeneration,
            $"Shared-memory region '{regionName}': object bound to mapping generation {boundGeneration} used after the region moved to generation {currentGeneration}.")
    {
        BoundGeneration = boundGeneration;
    }

    /// <summary>The generation the object was created against.</summary>
    public int BoundGeneration { get; }
}

/// <summary>A device address or offset range is not wholly inside a region (or overflows).</summary>
public sealed class AddressRangeException : ArgumentOutOfRangeException
{
    /// <summary>Creates the exception for the range <paramref name="address"/> + <paramref name="length"/> of <paramref name="subject"/>; <paramref name="detail"/> says how it fails.</summary>
    public AddressRangeException(string paramName, string subject, ulong address, ulong length, string detail)
        : base(paramName, $"{subject}: range [0x{address:X}, +0x{length:X}) {detail}.")
    {
        Address = address;
        RangeLength = length;
    }

    /// <summary>Start of the rejected range (device address or offset).</summary>
    public ulong Address { get; }

    /// <summary>Length of the rejected range.</summary>
    public ulong RangeLength { get; }
}

/// <summary>A thread that holds a mapping lease tried to block (wait, unmap). Leases must be short.</summary>
public sealed class LeaseHeldException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="operation"/>, attempted while holding a lease.</summary>
    public LeaseHeldException(string operation)
        : base($"{operation} while this thread holds a mapping lease or an open rx view ({MappingLease.HeldByCurrentThread} held). "
            + "End them first (dispose the lease or the RpmsgRxView, send or dispose the RpmsgTxBuffer): an unmap waits for every lease, so a blocking wait under one could last forever.")
    {
    }
}
