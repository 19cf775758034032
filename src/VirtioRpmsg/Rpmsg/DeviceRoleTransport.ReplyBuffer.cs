using System.Runtime.ExceptionServices;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Rpmsg;

// The next reply's buffer, taken ahead of the send that fills it (and write-prefetched).
internal sealed partial class DeviceRoleTransport
{
    // What taking ahead met (a chain the take refuses, the ring or pool gone): the next take throws it. Under the vq0 gate.
    private ExceptionDispatchInfo? _reserveFailure;
    // The buffer taken ahead while it is on top of _cancelled (-1: none), and vq0's avail index right after its take.
    private int _reservedHead = -1;
    private ushort _reservedUpTo;

    // Under the vq0 gate, after a publication (the host is busy with this message now, not waiting for this side). The
    // next reply's buffer is taken from the ring here (its avail entry and descriptor read, checked and translated), not
    // at the next send, which an echo's host waits for: 30-60 ns of each round trip on the test VM
    // (docs/benchmarks-notes.md, thirty-first round). Its lines are write-prefetched: the host read its rx buffers last,
    // so this side's first store into one must take each line over, and a fence would wait for that transfer
    // (docs/memory-ordering.md). Nothing is written. What the take meets (a chain it refuses, the ring or pool gone) is
    // not this message's failure: the next take throws it, where it would have met it. Never throws.
    private void ReserveNextReplyBuffer(VirtqueueDevice vq0, int length)
    {
        if (_cancelled.Count == 0 && _reserveFailure is null)
        {
            try
            {
                if (!TryTakeTx(vq0, out var next))
                    return;
                _cancelled.Push(next.Id);
                _reservedHead = next.Id;
                _reservedUpTo = vq0.NextAvailIndex;
            }
            catch (Exception e) when (RpmsgDataGate.Handles(e))
            {
                _reserveFailure = ExceptionDispatchInfo.Capture(e);
                return;
            }
        }
        if (_cancelled.TryPeek(out int head))
            PrefetchForWrite(_txRegion[head], _txOffset[head], Math.Min(length, BufferSize));
    }

    /// <summary>
    /// A stopped device gives the buffer it took ahead back to the ring, if no take came after it: the avail index it
    /// reports (vhost-user GET_VRING_BASE) then counts only buffers it used or still holds for the application, so a
    /// guest that never resumes it has lost none (one taken ahead and never filled would be lost for good). Private
    /// state only; call once the device stopped.
    /// </summary>
    internal void GiveBackReserved()
    {
        using var tx = _tx.Enter();
        if (_reservedHead >= 0 && _cancelled.TryPeek(out int top) && top == _reservedHead
            && tx.Queue.NextAvailIndex == _reservedUpTo && tx.Queue.TryUntakeLast(top))
            _cancelled.Pop();
        _reservedHead = -1;
    }

    // A hint must never fail the caller: a region the peer's descriptor names may be unmapped or remapped by now.
    private static void PrefetchForWrite(RegionHandle region, long offset, int length)
    {
        if (!region.TryAcquire(out var lease))
            return;
        using (lease)
            lease.PrefetchForWrite(offset, length);
    }
}
