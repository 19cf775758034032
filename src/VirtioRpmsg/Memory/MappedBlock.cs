using System.Runtime.InteropServices;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Memory;

/// <summary>
/// One mmap'd range owned by a region. The usable bytes start <see cref="InPageOffset"/> bytes into
/// the mapping (a UIO map or /dev/mem range need not be page-aligned). Guard bytes, when present,
/// are PROT_NONE on both sides. Being a SafeHandle, a forgotten region still gets unmapped, but never
/// under a lease still live on a running thread (a lease never disposed whose span may still be in use):
/// then the unmap waits, retried at each later collection, until no such lease is left.
/// </summary>
internal sealed unsafe class MappedBlock : SafeHandle
{
    internal MappedBlock(nint mapAddress, ulong mapLength, ulong guard, ulong inPageOffset, ulong usableLength)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(mapAddress);
        MapLength = mapLength;
        Guard = guard;
        InPageOffset = inPageOffset;
        UsableLength = usableLength;
    }

    internal ulong MapLength { get; }
    internal ulong Guard { get; }
    internal ulong InPageOffset { get; }
    internal ulong UsableLength { get; }

    /// <summary>The region this block maps (0: none), whose live leases hold off the finalizer's unmap.</summary>
    internal long RegionId { get; set; }

    internal byte* Base => (byte*)handle + InPageOffset;

    public override bool IsInvalid => handle == IntPtr.Zero;

    // Set by an explicit Dispose: the region drained its leases first (and is closed), so unmap now.
    private volatile bool _explicitRelease;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _explicitRelease = true;
        base.Dispose(disposing);
    }

    protected override bool ReleaseHandle()
    {
        // An explicit unmap gets here only after the region's leases drained: a slot that still names the region is a
        // thread trying to lease the closed region (it reads the closed bit next and leaves), not a live lease; deferring
        // would leave the memory mapped after Unmap returned. The finalizer of a forgotten region may get here while a
        // lease on it was leaked on a running thread: no unmap under it.
        if (!_explicitRelease && RegionId != 0 && ThreadLeaseTable.Count(RegionId) != 0)
        {
            _ = new DeferredUnmap(handle, MapLength, Guard, RegionId);
            return true;
        }
        return Native.Unmap(handle, MapLength, Guard) == 0;
    }

    // Unmaps at the first collection after the last live lease on the region is gone (its thread ended).
    private sealed class DeferredUnmap(nint address, ulong length, ulong guard, long regionId)
    {
        ~DeferredUnmap()
        {
            if (ThreadLeaseTable.Count(regionId) != 0)
            {
                GC.ReRegisterForFinalize(this);
                return;
            }
            _ = Native.Unmap(address, length, guard);
        }
    }

    /// <summary>
    /// Maps <paramref name="usableLength"/> bytes at <paramref name="fileOffset"/> + <paramref name="skip"/> of
    /// <paramref name="fd"/> (-1: anonymous). <paramref name="skip"/> is for devices (UIO) whose file offset
    /// selects the map and must stay page-aligned while the memory itself starts inside the page.
    /// </summary>
    /// <remarks>
    /// <paramref name="lengthUnit"/> (a power of two above the page size, else ignored) rounds the mapped length up to
    /// a multiple of it: a hugetlbfs file is mapped, and can only be unmapped, in whole huge pages.
    /// </remarks>
    internal static MappedBlock Map(int fd, string subject, long fileOffset, ulong usableLength, bool guardPages, ulong skip = 0, ulong lengthUnit = 0)
    {
        ulong page = (ulong)PageSize;
        ulong inPage = ((ulong)fileOffset & (page - 1)) + skip;
        ulong alignedOffset = (ulong)fileOffset & ~(page - 1);
        ulong unit = lengthUnit > page && (lengthUnit & (lengthUnit - 1)) == 0 ? lengthUnit : page;
        ulong mapLength = AlignUp(inPage + usableLength, unit);
        ulong guard = guardPages ? page : 0;
        int r = Native.Map(fd, mapLength, (long)alignedOffset, guard, out nint address);
        NativeCallException.ThrowIfError(r, "mmap", subject);
        return new MappedBlock(address, mapLength, guard, inPage, usableLength);
    }

    internal static long PageSize { get; } = Native.PageSize();

    internal static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
