using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Memory;

/// <summary>
/// Proof that a region stays mapped: while a lease is live, <see cref="SharedMemoryRegion.Unmap()"/>
/// waits. It is a <c>ref struct</c>, so it cannot be stored on the heap, captured, or held across an
/// <c>await</c>; spans over shared memory are only handed out by a lease.
/// </summary>
/// <remarks>
/// Rules: take it with <c>using var lease = region.Acquire();</c>, keep it for a bounded number of
/// memory operations, never block while holding it (blocking waits in this library throw
/// <see cref="LeaseHeldException"/> if the calling thread holds one).
/// <para>What is guaranteed: every accessor checks that this lease is still live (its slot in the
/// thread's lease table still carries its tag), so a disposed lease, and a copy of one
/// (<c>var b = a; a.Dispose();</c>), throws <see cref="ObjectDisposedException"/> instead of touching
/// memory. A span from <see cref="GetSpan"/> is bound by the compiler to the lease variable's scope
/// (<c>[UnscopedRef]</c>): it cannot be returned, stored, or used outside the block that declares
/// the lease. The one thing no check can see is a span used after an explicit <c>Dispose()</c>
/// inside that same block: use <c>using</c>, and do not dispose early while a span is in use.</para>
/// All accessors check bounds; the acquire/release ones also check natural alignment, because a
/// torn index would be a protocol error the peer could not see.
/// </remarks>
public unsafe ref partial struct MappingLease
{
    private SharedMemoryRegion? _region;
    private byte* _base;
    private readonly long _length;
    private readonly ThreadLeaseTable? _table;
    private readonly int _slot;
    private readonly uint _tag;
    // Device memory (or checking mode): accessors take the aligned path in DeviceMemoryAccess. Read once per
    // accessor call; on Normal memory the only cost is this predictable branch.
    private readonly bool _device;

    // The caller has claimed a slot of this thread's lease table (slot, tag) and checked the region open.
    internal MappingLease(SharedMemoryRegion region, byte* @base, long length, ThreadLeaseTable table, int slot, uint tag, int generation)
    {
        _region = region;
        _base = @base;
        _length = length;
        _table = table;
        _slot = slot;
        _tag = tag;
        _device = region.UsesDeviceAccess;
        Generation = generation;
    }

    /// <summary>Number of leases the calling thread holds right now.</summary>
    public static int HeldByCurrentThread => ThreadLeaseTable.HeldByCurrentThread;

    /// <summary>Throws <see cref="LeaseHeldException"/> if the calling thread holds a lease; call before blocking.</summary>
    public static void ThrowIfHeld(string operation)
    {
        if (ThreadLeaseTable.HeldByCurrentThread > 0)
            throw new LeaseHeldException(operation);
    }

    /// <summary>Generation of the mapping this lease protects.</summary>
    public readonly int Generation { get; }

    /// <summary>Number of bytes accessible through this lease.</summary>
    public readonly long Length => _length;

    /// <summary>True until this lease (or any copy of it) is disposed.</summary>
    public readonly bool IsActive => _region is not null && _table!.Holds(_slot, _tag);

    /// <summary>The region this lease is on.</summary>
    public readonly SharedMemoryRegion Region => _region ?? throw new ObjectDisposedException(nameof(MappingLease));

    /// <summary>
    /// Releases the lease; idempotent on the same variable. Releasing a copy of an already released
    /// lease throws <see cref="InvalidOperationException"/> and leaves every count untouched.
    /// </summary>
    public void Dispose()
    {
        var region = _region;
        if (region is null)
            return;
        _region = null;
        _base = null;
        // A lease is released on the thread that took it (ref struct), so _table is this thread's table.
        if (!_table!.TryExit(_slot, _tag))
            ThrowReleasedTwice(region.Name);
    }

    // ---- spans -----------------------------------------------------------------------------

    /// <summary>
    /// A writable span over [offset, offset+length). The compiler keeps it inside the scope of this
    /// lease variable; do not use it after disposing the lease early in that scope.
    /// </summary>
    /// <remarks>On Device memory, do not copy or clear through the span (it may use unaligned SIMD or <c>dc zva</c>); use <see cref="ReadBytes"/>, <see cref="WriteBytes"/>, <see cref="Fill"/>.</remarks>
    [UnscopedRef]
    public readonly Span<byte> GetSpan(long offset, int length) => new(SpanPointer(offset, length), length);

    /// <summary>A read-only span over [offset, offset+length), bound to this lease variable's scope like <see cref="GetSpan"/>.</summary>
    /// <remarks>On Device memory, read with <see cref="ReadBytes"/> instead (see <see cref="GetSpan"/>).</remarks>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> GetReadOnlySpan(long offset, int length) => new(SpanPointer(offset, length), length);

    /// <summary>Checked pointer into the mapping (library-internal: vring and mailbox accessors).</summary>
    internal readonly byte* Pointer(long offset, long length)
    {
        // Live check, not just "this variable was not disposed": a copy of a disposed lease fails here.
        if (_table is null || !_table.Holds(_slot, _tag))
            ThrowDisposed();
        // Unsigned compares reject negative values as well as overflowing ranges.
        if ((ulong)offset > (ulong)_length || (ulong)length > (ulong)(_length - offset))
            ThrowOutOfRange(offset, length);
        return _base + offset;
    }

    private readonly byte* Aligned(long offset, int size, bool write)
    {
        byte* p = Pointer(offset, size);
        if (((nuint)p & (nuint)(size - 1)) != 0)
            ThrowMisaligned(offset, size);
        if (_device)
            DeviceMemoryAccess.Observe(_region!, p, offset, size, write);
        return p;
    }

    // ---- plain little-endian accessors (private copies; callers validate what they read) ---

    /// <summary>Reads the byte at <paramref name="offset"/> (bounds-checked, no ordering).</summary>
    public readonly byte ReadByte(long offset)
    {
        byte* p = Pointer(offset, 1);
        if (_device)
            DeviceMemoryAccess.Observe(_region!, p, offset, 1, false);
        return *p;
    }
    /// <summary>Writes the byte at <paramref name="offset"/> (bounds-checked, no ordering).</summary>
    public readonly void WriteByte(long offset, byte value)
    {
        byte* p = Pointer(offset, 1);
        if (_device)
            DeviceMemoryAccess.Observe(_region!, p, offset, 1, true);
        *p = value;
    }
    /// <summary>Reads a little-endian 16-bit value at <paramref name="offset"/>; plain load, any alignment (on Device memory a misaligned request is split into aligned accesses).</summary>
    public readonly ushort ReadUInt16(long offset)
    {
        byte* p = Pointer(offset, 2);
        return _device ? DeviceMemoryAccess.ReadUInt16(_region!, p, offset) : Unsafe.ReadUnaligned<ushort>(p);
    }
    /// <summary>Reads a little-endian 32-bit value at <paramref name="offset"/>; plain load, any alignment (on Device memory a misaligned request is split into aligned accesses).</summary>
    public readonly uint ReadUInt32(long offset)
    {
        byte* p = Pointer(offset, 4);
        return _device ? DeviceMemoryAccess.ReadUInt32(_region!, p, offset) : Unsafe.ReadUnaligned<uint>(p);
    }
    /// <summary>Reads a little-endian 64-bit value at <paramref name="offset"/>; plain load, any alignment (on Device memory a misaligned request is split into aligned accesses).</summary>
    public readonly ulong ReadUInt64(long offset)
    {
        byte* p = Pointer(offset, 8);
        return _device ? DeviceMemoryAccess.ReadUInt64(_region!, p, offset) : Unsafe.ReadUnaligned<ulong>(p);
    }
    /// <summary>Writes a little-endian 16-bit value at <paramref name="offset"/>; plain store, no ordering (on Device memory: aligned accesses only, split if needed).</summary>
    public readonly void WriteUInt16(long offset, ushort value)
    {
        byte* p = Pointer(offset, 2);
        if (_device)
            DeviceMemoryAccess.WriteUInt16(_region!, p, offset, value);
        else
            Unsafe.WriteUnaligned(p, value);
    }
    /// <summary>Writes a little-endian 32-bit value at <paramref name="offset"/>; plain store, no ordering (on Device memory: aligned accesses only, split if needed).</summary>
    public readonly void WriteUInt32(long offset, uint value)
    {
        byte* p = Pointer(offset, 4);
        if (_device)
            DeviceMemoryAccess.WriteUInt32(_region!, p, offset, value);
        else
            Unsafe.WriteUnaligned(p, value);
    }
    /// <summary>Writes a little-endian 64-bit value at <paramref name="offset"/>; plain store, no ordering (on Device memory: aligned accesses only, split if needed).</summary>
    public readonly void WriteUInt64(long offset, ulong value)
    {
        byte* p = Pointer(offset, 8);
        if (_device)
            DeviceMemoryAccess.WriteUInt64(_region!, p, offset, value);
        else
            Unsafe.WriteUnaligned(p, value);
    }

    // ---- ordered accessors: the only publish/consume points of the protocol -----------------

    /// <summary>Load-acquire: later reads cannot move before it (consumer reads an index, then the entries).</summary>
    public readonly ushort ReadUInt16Acquire(long offset) => Volatile.Read(ref *(ushort*)Aligned(offset, 2, false));

    /// <summary>Store-release: earlier writes are visible before it (producer writes entries, then publishes the index).</summary>
    public readonly void WriteUInt16Release(long offset, ushort value) => Volatile.Write(ref *(ushort*)Aligned(offset, 2, true), value);

    /// <summary>Load-acquire of a 32-bit word.</summary>
    public readonly uint ReadUInt32Acquire(long offset) => Volatile.Read(ref *(uint*)Aligned(offset, 4, false));

    /// <summary>Store-release of a 32-bit word.</summary>
    public readonly void WriteUInt32Release(long offset, uint value) => Volatile.Write(ref *(uint*)Aligned(offset, 4, true), value);

    /// <summary>Load-acquire of a byte (status bytes).</summary>
    public readonly byte ReadByteAcquire(long offset) => Volatile.Read(ref *Aligned(offset, 1, false));

    /// <summary>Store-release of a byte (status bytes).</summary>
    public readonly void WriteByteRelease(long offset, byte value) => Volatile.Write(ref *Aligned(offset, 1, true), value);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowReleasedTwice(string regionName) =>
        throw new InvalidOperationException($"A mapping lease on region '{regionName}' was released twice; a lease must be disposed exactly once (do not copy it).");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(MappingLease), "The mapping lease was released; take a new one.");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private readonly void ThrowOutOfRange(long offset, long length) =>
        throw new AddressRangeException(nameof(offset), $"Region '{_region?.Name}' of 0x{_length:X} bytes", unchecked((ulong)offset), unchecked((ulong)length), "is not inside the region");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private readonly void ThrowMisaligned(long offset, int size) =>
        throw new ArgumentException($"Region '{_region?.Name}': offset 0x{offset:X} is not {size}-byte aligned for an ordered access.", nameof(offset));
}
