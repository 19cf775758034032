using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Memory;

/// <summary>
/// Accesses that are legal on ARM64 Device memory: every load and store is naturally aligned and at most
/// 8 bytes wide, and copies and fills are loops of such accesses (bytes, halfwords and words for an unaligned
/// head and tail, 8-byte words in between). Nothing here calls memcpy/memset or the runtime's span copies,
/// which may use unaligned SIMD or <c>dc zva</c> (both fault on Device memory).
/// </summary>
/// <remarks>
/// Every access is a <see cref="Volatile"/> load or store so that the JIT can neither merge neighbouring
/// accesses into a wider (possibly unaligned) one nor split or widen them; on ARM64 that makes them
/// <c>ldar</c>/<c>stlr</c> (or <c>ldapr</c>), which must be naturally aligned and are. Device memory is uncached,
/// so the ordering these add costs little next to the access itself. When the region is in checking mode
/// (<see cref="MemoryAccessChecker"/>), each access is reported before it is made.
/// </remarks>
internal static unsafe class DeviceMemoryAccess
{
    // ---- typed accessors: aligned requests are one access; misaligned ones are split ----------------

    internal static ushort ReadUInt16(SharedMemoryRegion region, byte* p, long offset)
    {
        if (((nuint)p & 1) == 0)
        {
            Observe(region, p, offset, 2, false);
            return Volatile.Read(ref *(ushort*)p);
        }
        ushort value = 0;
        ReadSplit(region, p, offset, (byte*)&value, 2);
        return value;
    }

    internal static uint ReadUInt32(SharedMemoryRegion region, byte* p, long offset)
    {
        if (((nuint)p & 3) == 0)
        {
            Observe(region, p, offset, 4, false);
            return Volatile.Read(ref *(uint*)p);
        }
        uint value = 0;
        ReadSplit(region, p, offset, (byte*)&value, 4);
        return value;
    }

    internal static ulong ReadUInt64(SharedMemoryRegion region, byte* p, long offset)
    {
        if (((nuint)p & 7) == 0)
        {
            Observe(region, p, offset, 8, false);
            return Volatile.Read(ref *(ulong*)p);
        }
        ulong value = 0;
        ReadSplit(region, p, offset, (byte*)&value, 8);
        return value;
    }

    internal static void WriteUInt16(SharedMemoryRegion region, byte* p, long offset, ushort value)
    {
        if (((nuint)p & 1) == 0)
        {
            Observe(region, p, offset, 2, true);
            Volatile.Write(ref *(ushort*)p, value);
            return;
        }
        WriteSplit(region, p, offset, (byte*)&value, 2);
    }

    internal static void WriteUInt32(SharedMemoryRegion region, byte* p, long offset, uint value)
    {
        if (((nuint)p & 3) == 0)
        {
            Observe(region, p, offset, 4, true);
            Volatile.Write(ref *(uint*)p, value);
            return;
        }
        WriteSplit(region, p, offset, (byte*)&value, 4);
    }

    internal static void WriteUInt64(SharedMemoryRegion region, byte* p, long offset, ulong value)
    {
        if (((nuint)p & 7) == 0)
        {
            Observe(region, p, offset, 8, true);
            Volatile.Write(ref *(ulong*)p, value);
            return;
        }
        WriteSplit(region, p, offset, (byte*)&value, 8);
    }

    // A misaligned request is legal for callers (split into aligned pieces), but the library never makes
    // one: the checking mode fails on it, so a layout mistake is found in tests, not on a board.
    private static void ReadSplit(SharedMemoryRegion region, byte* p, long offset, byte* value, int width)
    {
        region.Checker?.MisalignedRequest(region, offset, width);
        CopyOut(region, p, offset, value, width);
    }

    private static void WriteSplit(SharedMemoryRegion region, byte* p, long offset, byte* value, int width)
    {
        region.Checker?.MisalignedRequest(region, offset, width);
        CopyIn(region, p, offset, value, width);
    }

    /// <summary>Reports one access to the checker, if the region has one (ordered accessors call this too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Observe(SharedMemoryRegion region, byte* p, long offset, int width, bool write) =>
        region.Checker?.Access(region, p, offset, width, write);

    // ---- copies and fills -------------------------------------------------------------------------

    /// <summary>Copies <paramref name="length"/> bytes from shared <paramref name="source"/> to private <paramref name="destination"/>.</summary>
    internal static void CopyOut(SharedMemoryRegion region, byte* source, long offset, byte* destination, long length)
    {
        long i = 0;
        while (i < length)
        {
            byte* s = source + i;
            int w = Width(s, length - i);
            Observe(region, s, offset + i, w, false);
            switch (w)
            {
                case 8: Unsafe.WriteUnaligned(destination + i, Volatile.Read(ref *(ulong*)s)); break;
                case 4: Unsafe.WriteUnaligned(destination + i, Volatile.Read(ref *(uint*)s)); break;
                case 2: Unsafe.WriteUnaligned(destination + i, Volatile.Read(ref *(ushort*)s)); break;
                default: destination[i] = Volatile.Read(ref *s); break;
            }
            i += w;
        }
    }

    /// <summary>Copies <paramref name="length"/> bytes from private <paramref name="source"/> to shared <paramref name="destination"/>.</summary>
    internal static void CopyIn(SharedMemoryRegion region, byte* destination, long offset, byte* source, long length)
    {
        long i = 0;
        while (i < length)
        {
            byte* d = destination + i;
            int w = Width(d, length - i);
            Observe(region, d, offset + i, w, true);
            switch (w)
            {
                case 8: Volatile.Write(ref *(ulong*)d, Unsafe.ReadUnaligned<ulong>(source + i)); break;
                case 4: Volatile.Write(ref *(uint*)d, Unsafe.ReadUnaligned<uint>(source + i)); break;
                case 2: Volatile.Write(ref *(ushort*)d, Unsafe.ReadUnaligned<ushort>(source + i)); break;
                default: Volatile.Write(ref *d, source[i]); break;
            }
            i += w;
        }
    }

    /// <summary>Sets <paramref name="length"/> shared bytes at <paramref name="destination"/> to <paramref name="value"/> (no <c>dc zva</c>).</summary>
    internal static void Fill(SharedMemoryRegion region, byte* destination, long offset, long length, byte value)
    {
        ulong pattern = value * 0x0101_0101_0101_0101UL;
        long i = 0;
        while (i < length)
        {
            byte* d = destination + i;
            int w = Width(d, length - i);
            Observe(region, d, offset + i, w, true);
            switch (w)
            {
                case 8: Volatile.Write(ref *(ulong*)d, pattern); break;
                case 4: Volatile.Write(ref *(uint*)d, (uint)pattern); break;
                case 2: Volatile.Write(ref *(ushort*)d, (ushort)pattern); break;
                default: Volatile.Write(ref *d, value); break;
            }
            i += w;
        }
    }

    // The widest naturally aligned access at p that does not run past the end.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Width(byte* p, long rest)
    {
        nuint a = (nuint)p;
        if ((a & 7) == 0 && rest >= 8)
            return 8;
        if ((a & 3) == 0 && rest >= 4)
            return 4;
        if ((a & 1) == 0 && rest >= 2)
            return 2;
        return 1;
    }
}
