namespace VirtioRpmsg.Memory;

/// <summary>Overflow-proof range arithmetic shared by regions and address maps.</summary>
public static class AddressRange
{
    /// <summary>
    /// Translates <paramref name="address"/>..+<paramref name="length"/> inside a window
    /// [<paramref name="windowBase"/>, +<paramref name="windowSize"/>) into an offset from the window start.
    /// False when any byte of the range lies outside the window; never wraps around.
    /// </summary>
    public static bool TryTranslate(ulong windowBase, ulong windowSize, ulong address, ulong length, out ulong offset)
    {
        offset = 0;
        if (address < windowBase)
            return false;
        ulong relative = address - windowBase;
        // Two comparisons instead of relative + length <= size, which could overflow.
        if (relative > windowSize || length > windowSize - relative)
            return false;
        offset = relative;
        return true;
    }

    /// <summary>True when [start, +length) does not wrap past 2^64.</summary>
    public static bool FitsInAddressSpace(ulong start, ulong length) => length == 0 || start <= ulong.MaxValue - (length - 1);
}
