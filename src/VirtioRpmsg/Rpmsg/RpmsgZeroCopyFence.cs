using System.Runtime.InteropServices;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The application's zero-copy accesses to one device's buffers: an <see cref="RpmsgTxBuffer"/> from its take to its
/// send or dispose, and an <see cref="RpmsgRxView"/> of a held buffer while it is open. Each holds a mapping lease,
/// which keeps the memory mapped but does not keep the device: after a stop, a fresh device over the same rings (a
/// vdev reset, a vhost-user guest setting its queues up again) hands the same buffers out again, and a stale write
/// would land in another session's message. <see cref="RpmsgDevice.Stop"/> closes the fence (no access starts after
/// it); whoever builds the fresh device first waits for the accesses under way to end (<see cref="WaitForNone"/>).
/// </summary>
// The counter every zero-copy send and view writes gets a cache line of its own (64 bytes of padding on each side),
// so application threads counting in and out do not pull a neighbouring object's line (the dispatcher's) with it.
[StructLayout(LayoutKind.Explicit, Size = 136)]
internal sealed class RpmsgZeroCopyFence
{
    [FieldOffset(64)]
    private int _open;
    [FieldOffset(68)]
    private int _closed;
    [FieldOffset(0)]
    private readonly ManualResetEventSlim _none = new(false);

    /// <summary>Starts an access; false once the device stopped (nothing may be touched then).</summary>
    internal bool TryEnter()
    {
        Interlocked.Increment(ref _open); // a full fence: the count before the flag, as Close sets the flag before it counts
        if (Volatile.Read(ref _closed) == 0)
            return true;
        Exit();
        return false;
    }

    /// <summary>Ends an access started by <see cref="TryEnter"/>.</summary>
    internal void Exit()
    {
        if (Interlocked.Decrement(ref _open) == 0 && Volatile.Read(ref _closed) != 0)
            _none.Set();
    }

    /// <summary>No access starts from now on (the device stopped).</summary>
    internal void Close()
    {
        Volatile.Write(ref _closed, 1);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _open) == 0)
            _none.Set();
    }

    /// <summary>Accesses under way.</summary>
    internal int Open => Volatile.Read(ref _open);

    /// <summary>After <see cref="Close"/>: waits up to <paramref name="timeout"/> for every access to end; false if one is still open.</summary>
    internal bool WaitForNone(TimeSpan timeout)
    {
        var deadline = Deadline.Within(timeout);
        while (Open != 0)
        {
            if (deadline.IsExpired)
                return false;
            // Set when the count reached zero after the close; a TryEnter refused meanwhile may count for a moment.
            _none.Wait(deadline.Remaining);
            if (Open != 0)
                Thread.Yield();
        }
        return true;
    }
}
