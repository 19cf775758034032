using System.Runtime.Intrinsics.X86;

namespace VirtioRpmsg.Memory;

// Copies and fills that are safe on every memory type: the runtime's span routines on Normal memory,
// aligned access loops (DeviceMemoryAccess) on Device memory. The mode is checked once per call.
public unsafe ref partial struct MappingLease
{
    /// <summary>True when the region is Device memory (or in checking mode): only aligned accesses of at most 8 bytes are made.</summary>
    public readonly bool IsDeviceMemory => _device;

    /// <summary>True when <paramref name="handle"/> names this lease's region at this lease's mapping generation: an offset
    /// translated through that handle may be used with this lease, without a lease of its own.</summary>
    internal readonly bool Covers(RegionHandle handle) => _region is not null && ReferenceEquals(handle.Region, _region) && handle.Generation == Generation;

    /// <summary>
    /// Asks for the cache lines of [<paramref name="offset"/>, +<paramref name="length"/>) in a state this core can
    /// store to, without storing (a write prefetch, docs/memory-ordering.md): a store there later finds its line here,
    /// and no fence waits for the transfer meanwhile. A hint with no effect on contents; nothing on Device memory,
    /// which is uncached.
    /// </summary>
    internal readonly void PrefetchForWrite(long offset, int length)
    {
        byte* p = Pointer(offset, length);
        if (!_device)
            Interop.Native.PrefetchWrite(p, (uint)length);
    }

    /// <summary>
    /// Asks for the cache lines of [<paramref name="offset"/>, +<paramref name="length"/>) to be read into this core's
    /// cache (a read prefetch) without waiting for them: a copy out of them soon after finds them here, or on their
    /// way. A hint with no effect on contents: <c>prefetcht0</c> inline on x86-64, native <c>vr_prefetch_read</c>
    /// (<c>prfm pldl1keep</c>) on ARM64, which the runtime does not expose; nothing on Device memory, which is uncached.
    /// </summary>
    internal readonly void PrefetchForRead(long offset, int length)
    {
        byte* p = Pointer(offset, length);
        if (_device)
            return;
        if (!Sse.IsSupported)
        {
            Interop.Native.PrefetchRead(p, (uint)length);
            return;
        }
        byte* end = p + length;
        for (byte* line = (byte*)((nuint)p & ~(nuint)(CacheLine - 1)); line < end; line += CacheLine)
            Sse.Prefetch0(line);
    }

    private const int CacheLine = 64;

    /// <summary>Copies <c>destination.Length</c> bytes at <paramref name="offset"/> out of shared memory.</summary>
    public readonly void ReadBytes(long offset, Span<byte> destination)
    {
        byte* p = Pointer(offset, destination.Length);
        if (!_device)
        {
            new ReadOnlySpan<byte>(p, destination.Length).CopyTo(destination);
            return;
        }
        fixed (byte* d = destination)
            DeviceMemoryAccess.CopyOut(_region!, p, offset, d, destination.Length);
    }

    /// <summary>Copies <paramref name="source"/> into shared memory at <paramref name="offset"/>.</summary>
    public readonly void WriteBytes(long offset, ReadOnlySpan<byte> source)
    {
        byte* p = Pointer(offset, source.Length);
        if (!_device)
        {
            source.CopyTo(new Span<byte>(p, source.Length));
            return;
        }
        fixed (byte* s = source)
            DeviceMemoryAccess.CopyIn(_region!, p, offset, s, source.Length);
    }

    /// <summary>Sets <paramref name="length"/> bytes at <paramref name="offset"/> to <paramref name="value"/>.</summary>
    public readonly void Fill(long offset, long length, byte value)
    {
        byte* p = Pointer(offset, length);
        if (_device)
        {
            DeviceMemoryAccess.Fill(_region!, p, offset, length, value);
            return;
        }
        // Chunked: a span covers at most int.MaxValue bytes.
        while (length > 0)
        {
            int n = (int)Math.Min(length, int.MaxValue);
            new Span<byte>(p, n).Fill(value);
            p += n;
            length -= n;
        }
    }

    /// <summary>Zeroes <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public readonly void Clear(long offset, long length) => Fill(offset, length, 0);

    // A raw span cannot be checked: in checking mode handing one out is itself a violation.
    private readonly byte* SpanPointer(long offset, int length)
    {
        byte* p = Pointer(offset, length);
        if (_device)
            _region!.Checker?.RawSpan(_region, offset, length);
        return p;
    }
}
