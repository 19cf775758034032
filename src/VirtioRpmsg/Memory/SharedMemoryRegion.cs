using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Memory;

/// <summary>
/// A mapped window of shared memory with a device (physical) base address. All access goes through
/// a <see cref="MappingLease"/>; unmapping (a) refuses new leases at once, (b) bumps the generation,
/// (c) waits for every live lease to be released and (d) only then calls munmap. Nothing can touch
/// the memory after it is unmapped.
/// </summary>
public sealed unsafe partial class SharedMemoryRegion : IDisposable
{
    private const int ClosedBit = 1;

    /// <summary>Largest generation: the state word holds (generation &lt;&lt; 1) | closed in a non-negative int.</summary>
    public const int MaxGeneration = int.MaxValue >> 1;

    private static long s_lastId;

    // Identifies this region in the per-thread lease tables (never reused, never 0; stays far below
    // the 2^39 that a lease-table slot word can hold).
    private readonly long _id = Interlocked.Increment(ref s_lastId);
    private readonly Func<MappedBlock> _map;
    private readonly FileDescriptor? _descriptor;
    private readonly object _lifecycle = new();

    // (generation << 1) | closed. Written only under _lifecycle, read lock-free by Acquire.
    private int _state;
    private MappedBlock? _block;
    private byte* _base;
    private bool _disposed;

    private SharedMemoryRegion(string name, RegionBacking backing, ulong deviceAddress, long size, Func<MappedBlock> map, FileDescriptor? descriptor, RegionAccess access)
    {
        Name = name;
        Backing = backing;
        DeviceAddress = deviceAddress;
        Size = size;
        MemoryType = access.MemoryType ?? DefaultMemoryType(backing);
        Barriers = access.Barriers;
        Checker = MemoryAccessChecker.Ambient.Value;
        _map = map;
        _descriptor = descriptor;
        _block = map();
        _block.RegionId = _id;
        _base = _block.Base;
        MappingInPageOffset = _block.InPageOffset;
    }

    /// <summary>
    /// How far into its page the mapping's first byte lies (the physical address's or file offset's low bits; UIO's
    /// <c>offset</c>). The same for every mapping of the region: a host address's alignment is this plus the offset.
    /// </summary>
    internal ulong MappingInPageOffset { get; }

    /// <summary>Name used in every error message (a path, or a description).</summary>
    public string Name { get; }

    /// <summary>Where the memory comes from.</summary>
    public RegionBacking Backing { get; }

    /// <summary>Device (physical) address of the first byte, as the remote processor sees it.</summary>
    public ulong DeviceAddress { get; }

    /// <summary>Size in bytes.</summary>
    public long Size { get; }

    /// <summary>Mapping generation: bumped by every unmap. Objects bound to an older one fail fast.</summary>
    public int Generation => Volatile.Read(ref _state) >> 1;

    /// <summary>True while leases can be taken.</summary>
    public bool IsMapped => (Volatile.Read(ref _state) & ClosedBit) == 0;

    /// <summary>Number of leases currently live (diagnostics).</summary>
    public long LiveLeases => ThreadLeaseTable.Count(_id);

    /// <summary>The memfd backing this region, for handing to a peer process; null for other backings.</summary>
    internal FileDescriptor? Descriptor => _descriptor;

    // ---- leases ----------------------------------------------------------------------------

    /// <summary>Takes a lease on the current mapping. Throws <see cref="RegionClosedException"/> when unmapped.</summary>
    public MappingLease Acquire()
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        // Read after the slot is published: either Unmap's scan sees the slot, or this sees its closed bit.
        int state = Volatile.Read(ref _state);
        if ((state & ClosedBit) != 0)
        {
            table.TryExit(slot, tag);
            throw new RegionClosedException(Name, state >> 1);
        }
        // _base is read after the state check (acquire order): it belongs to the generation just checked.
        return new MappingLease(this, _base, Size, table, slot, tag, state >> 1);
    }

    /// <summary>
    /// Takes a lease only if the region is still at <paramref name="expectedGeneration"/>;
    /// throws <see cref="StaleMappingException"/> when it has been remapped since.
    /// </summary>
    public MappingLease Acquire(int expectedGeneration)
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        int state = Volatile.Read(ref _state);
        // The range check stops a huge or negative generation from aliasing a real one after the shift.
        if ((uint)expectedGeneration > MaxGeneration || state != expectedGeneration << 1)
        {
            table.TryExit(slot, tag);
            ThrowAcquireFailed(state, expectedGeneration);
        }
        return new MappingLease(this, _base, Size, table, slot, tag, expectedGeneration);
    }

    /// <summary>Takes a lease if the region is mapped at <paramref name="expectedGeneration"/>; false otherwise.</summary>
    public bool TryAcquire(int expectedGeneration, out MappingLease lease)
    {
        var table = ThreadLeaseTable.Current;
        int slot = Enter(table, out uint tag);
        if ((uint)expectedGeneration > MaxGeneration || Volatile.Read(ref _state) != expectedGeneration << 1)
        {
            table.TryExit(slot, tag);
            lease = default;
            return false;
        }
        lease = new MappingLease(this, _base, Size, table, slot, tag, expectedGeneration);
        return true;
    }

    private int Enter(ThreadLeaseTable table, out uint tag)
    {
        int slot = table.Enter(_id, out tag);
        if (slot < 0)
            ThrowTooManyLeases();
        // Without membarrier the runtime's process-wide barrier may not order this thread's slot store
        // before its state read (ARM64 RCpc cores); then the acquirer pays for a full fence itself.
        // A static readonly bool: the JIT drops the branch where membarrier exists.
        if (AcquirerNeedsFence)
            Interlocked.MemoryBarrier();
        return slot;
    }

    /// <summary>True when the kernel lacks MEMBARRIER_CMD_PRIVATE_EXPEDITED (or VRPMSG_LEASE_FENCE=1 forces the fallback).</summary>
    internal static readonly bool AcquirerNeedsFence =
        Environment.GetEnvironmentVariable("VRPMSG_LEASE_FENCE") == "1" ||
        (Native.MembarrierQuery() is int mask && (mask < 0 || (mask & Native.MembarrierPrivateExpedited) == 0));

    /// <summary>A handle that binds the current generation: it fails fast once the region is remapped.</summary>
    public RegionHandle Bind() => new(this, Generation);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowAcquireFailed(int state, int expectedGeneration)
    {
        int generation = state >> 1;
        if (generation != expectedGeneration)
            throw new StaleMappingException(Name, expectedGeneration, generation);
        throw new RegionClosedException(Name, generation);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowTooManyLeases() =>
        throw new InvalidOperationException($"Region '{Name}': this thread already holds {ThreadLeaseTable.Capacity} mapping leases; leases must be short and few.");

    // ---- unmap / remap ---------------------------------------------------------------------

    /// <summary>Unmaps, waiting up to 10 seconds for live leases. See <see cref="Unmap(TimeSpan)"/>.</summary>
    public void Unmap() => Unmap(TimeSpan.FromSeconds(10));

    /// <summary>
    /// Refuses new leases, bumps the generation, waits for live leases to drain, then unmaps.
    /// If leases are still live after <paramref name="drainTimeout"/> the memory stays mapped (and
    /// closed to new leases) and <see cref="TimeoutException"/> is thrown: unmapping under a live
    /// lease is never an option. Idempotent.
    /// </summary>
    public void Unmap(TimeSpan drainTimeout)
    {
        if (drainTimeout < TimeSpan.Zero && drainTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(drainTimeout), drainTimeout, $"Region '{Name}': drain timeout must be non-negative or infinite.");
        if (MappingLease.HeldByCurrentThread > 0)
            throw new LeaseHeldException($"Unmap of region '{Name}'");
        lock (_lifecycle)
            UnmapLocked(drainTimeout);
    }

    private void UnmapLocked(TimeSpan drainTimeout)
    {
        int state = _state;
        if ((state & ClosedBit) == 0)
        {
            // At MaxGeneration the generation cannot move on: close without bumping and refuse any
            // later Remap, so no handle can ever see a reused generation number.
            int generation = state >> 1;
            int next = generation < MaxGeneration ? generation + 1 : generation;
            Interlocked.Exchange(ref _state, (next << 1) | ClosedBit);
            // Acts as a full fence on every thread: pairs with the publish-slot-then-read-state in
            // Acquire, so from here on the scan in WaitForLeases sees every lease that can still be live.
            Interlocked.MemoryBarrierProcessWide();
        }
        if (_block is null)
            return;
        WaitForLeases(drainTimeout);
        var block = _block;
        _block = null;
        _base = null;
        block.Dispose();
    }

    private void WaitForLeases(TimeSpan timeout)
    {
        // Leases are short by design (no blocking while held), so a spin usually suffices.
        var spin = new SpinWait();
        var deadline = Deadline.Within(timeout);
        while (ThreadLeaseTable.Count(_id) != 0)
        {
            if (spin.NextSpinWillYield && deadline.IsExpired)
                throw new TimeoutException($"Region '{Name}': {ThreadLeaseTable.Count(_id)} lease(s) still live after {timeout.TotalMilliseconds} ms; the region is closed but not unmapped.");
            spin.SpinOnce(sleep1Threshold: 40);
        }
    }

    /// <summary>Maps the same backing again under a new generation (recovery). Objects bound to the old one stay stale.</summary>
    public void Remap()
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if ((_state & ClosedBit) == 0)
                throw new InvalidOperationException($"Region '{Name}' is still mapped (generation {_state >> 1}); unmap it first.");
            if (_block is not null)
                throw new InvalidOperationException($"Region '{Name}' could not be unmapped earlier (leases still live); cannot remap.");
            if (_state >> 1 == MaxGeneration)
                throw new InvalidOperationException($"Region '{Name}' has used all {MaxGeneration} generations; it cannot be mapped again.");
            var block = _map();
            block.RegionId = _id;
            _block = block;
            _base = block.Base;
            // Release: the new base is visible before the open state is.
            Volatile.Write(ref _state, _state & ~ClosedBit);
        }
    }

    /// <summary>
    /// Unmaps (waiting up to 10 seconds for leases) and releases the backing descriptor. See <see cref="Dispose(TimeSpan)"/>.
    /// </summary>
    public void Dispose() => Dispose(TimeSpan.FromSeconds(10));

    /// <summary>
    /// One step under the lifecycle lock, so no <see cref="Remap"/> can slip in between: marks the region
    /// disposed (no mapping ever again), closes it to new leases, waits for live leases, unmaps, and
    /// releases the descriptor. The descriptor is released even when leases outlive
    /// <paramref name="drainTimeout"/> (the mapping keeps its own reference to the memory; nothing maps
    /// from the descriptor again); the memory then stays mapped and closed, <see cref="TimeoutException"/>
    /// is thrown, and a later Dispose or <see cref="Unmap()"/> finishes the unmap. Idempotent.
    /// </summary>
    internal void Dispose(TimeSpan drainTimeout)
    {
        if (MappingLease.HeldByCurrentThread > 0)
            throw new LeaseHeldException($"Dispose of region '{Name}'");
        lock (_lifecycle)
        {
            _disposed = true;
            try
            {
                UnmapLocked(drainTimeout);
            }
            finally
            {
                _descriptor?.Dispose();
            }
        }
    }

    // ---- address translation ---------------------------------------------------------------

    /// <summary>Translates a device address range to an offset in this region; false if not wholly inside.</summary>
    public bool TryTranslate(ulong deviceAddress, ulong length, out long offset)
    {
        bool ok = AddressRange.TryTranslate(DeviceAddress, (ulong)Size, deviceAddress, length, out ulong o);
        offset = (long)o;
        return ok;
    }

    /// <summary>Translates a device address range to an offset; throws <see cref="AddressRangeException"/> if not wholly inside.</summary>
    public long Translate(ulong deviceAddress, ulong length)
    {
        if (!TryTranslate(deviceAddress, length, out long offset))
            throw new AddressRangeException(nameof(deviceAddress), $"Region '{Name}' [0x{DeviceAddress:X}, +0x{Size:X})", deviceAddress, length, "is not inside the region");
        return offset;
    }

    /// <summary>Device address of an offset range; throws if the range is not inside the region.</summary>
    public ulong ToDeviceAddress(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size || length > Size - offset)
            throw new AddressRangeException(nameof(offset), $"Region '{Name}' of 0x{Size:X} bytes", unchecked((ulong)offset), unchecked((ulong)length), "is not inside the region");
        return DeviceAddress + (ulong)offset;
    }

    /// <summary>Name, backing, device range and generation, for logs.</summary>
    public override string ToString() => $"{Name} ({Backing}, 0x{DeviceAddress:X}+0x{Size:X}, generation {Generation}{(IsMapped ? "" : ", unmapped")})";
}
