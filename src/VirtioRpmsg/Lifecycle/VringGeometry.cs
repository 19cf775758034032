namespace VirtioRpmsg.Lifecycle;

/// <summary>Size of a split (legacy) vring, for placing vrings and checking that they fit.</summary>
internal static class VringGeometry
{
    /// <summary>
    /// Bytes of a vring of <paramref name="num"/> entries with alignment <paramref name="align"/>:
    /// ALIGN_UP(16*num + 2*(3+num), align) + 2*3 + 8*num (wire-format.md; 10246 for 256/4096).
    /// </summary>
    internal static ulong Bytes(ulong num, ulong align) => AlignUp(16 * num + 2 * (3 + num), align) + 2 * 3 + 8 * num;

    internal static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
}
