using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Virtio;

// What a take or a push refuses, worded out of line: a message built inside TryTakeAvailable or a push would make
// the JIT inline its string building there, and the frame it needs is zeroed on every call (about 1 KB for the take,
// docs/benchmarks-notes.md, nineteenth round). Each helper only formats and breaks (or throws).
public sealed partial class VirtqueueDevice
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakAvailIndexJump(ushort availIdx, int pending, ushort last) =>
        _health.Break(FaultRule.AvailIndexJump, "avail.idx", availIdx,
            $"avail.idx is {availIdx}, {pending} entries past the next one to take ({last}); at most num ({_num}) can be pending");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakHeadOutOfRange(int slot, ushort head) =>
        _health.Break(FaultRule.HeadOutOfRange, $"avail.ring[{slot}]", head, $"avail.ring[{slot}] (head) is {head}, num is {_num}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakChainTooLong(ushort head, int index) =>
        _health.Break(FaultRule.ChainTooLong, $"desc[{index}].next", (ulong)index,
            $"the chain at head {head} is longer than num ({_num}) descriptors (a loop through descriptor {index}, or an overlong chain)");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakIndirect(ushort head, int index, ushort flags) =>
        _health.Break(FaultRule.IndirectNotSupported, $"desc[{index}].flags", flags,
            $"descriptor {index} (chain head {head}) has flags 0x{flags:X4} with INDIRECT set; indirect descriptors were not negotiated");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakDescriptorOutOfRange(ushort head, int index, ulong address, uint length) =>
        _health.Break(FaultRule.DescriptorOutOfRange, $"desc[{index}].addr", address,
            $"descriptor {index} (chain head {head}) addr 0x{address:X} len 0x{length:X} is not wholly inside one registered buffer region (or overflows)");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakNextOutOfRange(ushort head, int index, ushort next) =>
        _health.Break(FaultRule.NextOutOfRange, $"desc[{index}].next", next, $"descriptor {index} (chain head {head}) has next {next}, num is {_num}");

    // A push names a chain this side took and has not pushed yet.
    private void CheckTaken(int head)
    {
        if ((uint)head >= (uint)_num || _taken[head] == 0)
            ThrowNotTaken(head);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNotTaken(int head) =>
        throw new ArgumentOutOfRangeException(nameof(head), head, $"Virtqueue '{Name}': head {head} is not a chain taken by TryTakeAvailable and not yet pushed.");
}
