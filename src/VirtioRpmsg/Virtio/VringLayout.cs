namespace VirtioRpmsg.Virtio;

/// <summary>
/// Byte layout of one split virtqueue in the legacy (remoteproc/rpmsg) arrangement: descriptor table,
/// avail ring (with <c>used_event</c> after it), padding to <see cref="Align"/>, used ring (with
/// <c>avail_event</c> after it). Offsets are relative to the start of the vring, which must itself be
/// aligned to <see cref="Align"/> for them to match what the peer computes from absolute addresses.
/// </summary>
public readonly struct VringLayout : IEquatable<VringLayout>
{
    /// <summary>Largest queue size the split ring allows.</summary>
    public const int MaxNum = 32768;

    /// <summary>Size of one descriptor (addr u64, len u32, flags u16, next u16).</summary>
    public const int DescriptorSize = 16;

    /// <summary>Size of one used element (id u32, len u32).</summary>
    public const int UsedElementSize = 8;

    /// <summary>Creates the layout for <paramref name="num"/> entries with used-ring alignment <paramref name="align"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">num is not a power of two in 1..32768, or align is not a power of two.</exception>
    public VringLayout(int num, int align)
    {
        if (num < 1 || num > MaxNum || (num & (num - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(num), num, $"Vring num {num} must be a power of two between 1 and {MaxNum}.");
        if (align < 1 || (align & (align - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(align), align, $"Vring align {align} must be a positive power of two.");
        Num = num;
        Align = align;
    }

    /// <summary>Number of descriptors (and of avail/used ring slots).</summary>
    public int Num { get; }

    /// <summary>Alignment of the used ring.</summary>
    public int Align { get; }

    /// <summary>Offset of the descriptor table: always 0.</summary>
    public long DescriptorTableOffset => 0;

    /// <summary>Offset of the avail ring (flags, idx, ring[num], used_event).</summary>
    public long AvailOffset => (long)DescriptorSize * Num;

    /// <summary>Offset of <c>used_event</c>, the last word of the avail ring (written by the driver).</summary>
    public long UsedEventOffset => AvailOffset + 4 + 2L * Num;

    /// <summary>Offset of the used ring (flags, idx, ring[num], avail_event).</summary>
    public long UsedOffset => AlignUp(AvailOffset + 2L * (3 + Num), Align);

    /// <summary>Offset of <c>avail_event</c>, the last word of the used ring (written by the device).</summary>
    public long AvailEventOffset => UsedOffset + 4 + (long)UsedElementSize * Num;

    /// <summary>Total bytes the vring occupies.</summary>
    public long TotalSize => UsedOffset + 2 * 3 + (long)UsedElementSize * Num;

    /// <summary>Total size of a vring of <paramref name="num"/> entries and alignment <paramref name="align"/> (validated as in the constructor).</summary>
    public static long Size(int num, int align) => new VringLayout(num, align).TotalSize;

    private static long AlignUp(long value, int align) => (value + align - 1) & ~((long)align - 1);

    /// <summary>True when num and align are equal.</summary>
    public bool Equals(VringLayout other) => Num == other.Num && Align == other.Align;

    /// <summary>True when <paramref name="obj"/> is a layout with the same num and align.</summary>
    public override bool Equals(object? obj) => obj is VringLayout other && Equals(other);

    /// <summary>Hash of num and align.</summary>
    public override int GetHashCode() => HashCode.Combine(Num, Align);

    /// <summary>True when both layouts have the same num and align.</summary>
    public static bool operator ==(VringLayout left, VringLayout right) => left.Equals(right);

    /// <summary>True when the layouts differ in num or align.</summary>
    public static bool operator !=(VringLayout left, VringLayout right) => !left.Equals(right);

    /// <summary>Num, align, ring offsets and total size, for logs.</summary>
    public override string ToString() => $"vring(num {Num}, align {Align}: avail @0x{AvailOffset:X}, used @0x{UsedOffset:X}, 0x{TotalSize:X} bytes)";
}
