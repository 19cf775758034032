using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Virtio;

// What a take of a used element refuses, worded out of line (as in VirtqueueDevice.Faults.cs): string building
// inlined into the take would grow the frame every take zeroes. Each helper only formats and breaks.
public sealed partial class VirtqueueDriver
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakUsedIndexJump(ushort usedIdx, int pending, ushort last, int inFlight) =>
        _health.Break(FaultRule.UsedIndexJump, "used.idx", usedIdx,
            $"used.idx is {usedIdx}, {pending} entries past the last reclaimed ({last}), but only {inFlight} chain(s) are published and not reclaimed");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakUsedIdOutOfRange(int slot, uint id) =>
        _health.Break(FaultRule.UsedIdOutOfRange, $"used.ring[{slot}].id", id, $"used.ring[{slot}].id is {id}, num is {_num}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakUsedIdNotOutstanding(int slot, uint id) =>
        _health.Break(FaultRule.UsedIdNotOutstanding, $"used.ring[{slot}].id", id,
            $"used.ring[{slot}].id is {id}, which is not the head of a chain in flight (never posted, not a head, or returned twice)");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakUsedLengthTooLarge(int slot, uint id, uint len) =>
        _health.Break(FaultRule.UsedLengthTooLarge, $"used.ring[{slot}].len", len,
            $"used.ring[{slot}].len is {len} for chain {id}, which can hold at most {_usedLimit[id]} bytes");
}
