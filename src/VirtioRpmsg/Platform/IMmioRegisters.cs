namespace VirtioRpmsg.Platform;

/// <summary>
/// A block of 32-bit device registers, such as a mailbox controller mapped through UIO. Offsets are
/// relative to the block and must be 4-byte aligned: device registers take naturally aligned 32-bit
/// accesses only. Both calls are non-blocking and never allocate (they sit on the ring path).
/// Implementations: <see cref="MmioRegisterBlock"/> (a mapped region); register-level models in tests.
/// </summary>
public interface IMmioRegisters
{
    /// <summary>What the block is (region name and offset), for messages.</summary>
    string Name { get; }

    /// <summary>Size of the block in bytes.</summary>
    long Size { get; }

    /// <summary>Reads the register at <paramref name="offset"/>; false when the block is no longer mapped (nothing read).</summary>
    bool TryRead32(long offset, out uint value);

    /// <summary>Writes the register at <paramref name="offset"/>; false when the block is no longer mapped (nothing written).</summary>
    bool TryWrite32(long offset, uint value);
}
