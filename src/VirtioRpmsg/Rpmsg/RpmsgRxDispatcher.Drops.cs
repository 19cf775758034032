using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// What the receive side drops or breaks on, worded out of line: string building inlined into HandleReceived or
// Deliver would grow the frame each of them zeroes on every message (docs/benchmarks-notes.md, nineteenth round).
internal sealed partial class RpmsgRxDispatcher
{
    private void DropReceived(IRpmsgTransport transport, int id, string why)
    {
        _counters.CountRx();
        Release(transport, id);
        _counters.CountError("bad message: " + why);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropShort(IRpmsgTransport transport, int id, int usedLength) =>
        DropReceived(transport, id, $"used length {usedLength} is shorter than the {RpmsgHeader.Size}-byte header");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropOverlong(IRpmsgTransport transport, int id, in RpmsgHeader header, int room) =>
        DropReceived(transport, id,
            $"header len {header.Length} exceeds the {room} payload bytes the buffer holds (src 0x{header.Source:X}, dst 0x{header.Destination:X})");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropReservedSource(IRpmsgTransport transport, int id, in RpmsgHeader header) =>
        DropReceived(transport, id, $"src 0x{header.Source:X} is reserved (dst 0x{header.Destination:X}, {header.Length} bytes)");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakRedelivered(int id) =>
        _device.Break(new Fault(FaultLayer.Rpmsg, FaultRule.HeldBufferRedelivered, "rx buffer", (ulong)id,
            $"rx buffer {id} was delivered again while the application still holds it"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountNoEndpoint(uint source, uint destination, int length) =>
        _counters.CountDropped($"no endpoint at dst 0x{destination:X} (src 0x{source:X}, {length} bytes)");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountStoppedBeforeZeroCopy(uint destination) =>
        _counters.CountDropped($"device no longer running before a zero-copy message to 0x{destination:X} was delivered");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountDestroyedInFlight(uint destination) =>
        _counters.CountDropped($"endpoint 0x{destination:X} destroyed while a message was in flight");
}
