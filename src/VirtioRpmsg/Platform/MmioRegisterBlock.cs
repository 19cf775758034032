using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Platform;

/// <summary>
/// <see cref="IMmioRegisters"/> over a mapped region (usually a UIO map of the controller): every access
/// is one 32-bit load or store through the native shim (the store is ordered after earlier ring
/// updates, as Linux's writel), made under a mapping lease so that nothing touches the registers after
/// the region is unmapped; an unmapped region makes the access report false. A block is bound to the mapping
/// generation the region had when it was made (as every other object of a session): after an unmap and a
/// remap (the next session, which builds its own mailbox over new blocks) it keeps reporting false, so a ring,
/// Stop or enable change of an earlier session can never reach the registers the new one has set up.
/// </summary>
public sealed unsafe class MmioRegisterBlock : IMmioRegisters
{
    private readonly SharedMemoryRegion _region;
    private readonly long _base;
    private readonly int _generation;

    /// <summary>The registers at <paramref name="baseOffset"/> .. +<paramref name="size"/> of <paramref name="region"/>.</summary>
    public MmioRegisterBlock(SharedMemoryRegion region, long baseOffset, long size)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (baseOffset < 0 || (baseOffset & 3) != 0 || baseOffset > region.Size)
            throw new ArgumentOutOfRangeException(nameof(baseOffset), baseOffset,
                $"Register block base 0x{baseOffset:X} is not a 4-byte-aligned offset inside '{region.Name}' (0x{region.Size:X} bytes).");
        if (size < 4 || (size & 3) != 0 || size > region.Size - baseOffset)
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"Register block of 0x{size:X} bytes at 0x{baseOffset:X} does not fit in '{region.Name}' (0x{region.Size:X} bytes).");
        _region = region;
        _base = baseOffset;
        // A block made while the region is unmapped is bound to the mapping its next Remap makes (same generation).
        _generation = region.Generation;
        Size = size;
        Name = baseOffset == 0 ? region.Name : $"{region.Name}+0x{baseOffset:X}";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public long Size { get; }

    /// <inheritdoc />
    public bool TryRead32(long offset, out uint value)
    {
        Check(offset);
        value = 0;
        // Only the mapping this block was made for: a later one belongs to another session's mailbox.
        if (!_region.TryAcquire(_generation, out var lease))
            return false;
        try
        {
            // SAFETY: Check bounded the offset to the block, which the constructor bounded to the region; the lease checks again.
            value = Native.MmioRead32((uint*)lease.Pointer(_base + offset, sizeof(uint)));
            return true;
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <inheritdoc />
    public bool TryWrite32(long offset, uint value)
    {
        Check(offset);
        if (!_region.TryAcquire(_generation, out var lease))
            return false;
        try
        {
            // SAFETY: as in TryRead32.
            Native.MmioWrite32((uint*)lease.Pointer(_base + offset, sizeof(uint)), value);
            return true;
        }
        finally
        {
            lease.Dispose();
        }
    }

    private void Check(long offset)
    {
        if (offset < 0 || offset > Size - sizeof(uint) || (offset & 3) != 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Register 0x{offset:X} is not a 4-byte-aligned register inside '{Name}' (0x{Size:X} bytes).");
    }

    /// <summary>The block, for logs.</summary>
    public override string ToString() => $"registers {Name}";
}
