using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// What the receive side drops or breaks on, worded out of line: string building inlined into HandleReceived or
// Deliver would grow the frame each of them zeroes on every message (docs/benchmarks-notes.md, nineteenth round).
internal sealed partial class RpmsgRxDispatcher
{
    // Gives the buffer back and counts the error; true when the log takes a warning about it now (level and rate
    // limit): only then is the reason worded (a hostile peer's flood of bad messages allocates nothing per message).
    private bool DropReceived(IRpmsgTransport transport, int id, out long errors)
    {
        _counters.CountRx();
        Release(transport, id);
        return _counters.CountErrorAndShouldLog(out errors);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropShort(IRpmsgTransport transport, int id, int usedLength)
    {
        if (DropReceived(transport, id, out long n))
            _counters.LogError($"bad message: used length {usedLength} is shorter than the {RpmsgHeader.Size}-byte header", n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropOverlong(IRpmsgTransport transport, int id, in RpmsgHeader header, int room)
    {
        if (DropReceived(transport, id, out long n))
            _counters.LogError($"bad message: header len {header.Length} exceeds the {room} payload bytes the buffer holds (src 0x{header.Source:X}, dst 0x{header.Destination:X})", n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropReservedSource(IRpmsgTransport transport, int id, in RpmsgHeader header)
    {
        if (DropReceived(transport, id, out long n))
            _counters.LogError($"bad message: src 0x{header.Source:X} is reserved (dst 0x{header.Destination:X}, {header.Length} bytes)", n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BreakRedelivered(int id) =>
        _device.Break(new Fault(FaultLayer.Rpmsg, FaultRule.HeldBufferRedelivered, "rx buffer", (ulong)id,
            $"rx buffer {id} was delivered again while the application still holds it"));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountNoEndpoint(uint source, uint destination, int length)
    {
        if (_counters.CountDroppedAndShouldLog(1, out long total))
            _counters.LogDropped(1, total, $"no endpoint at dst 0x{destination:X} (src 0x{source:X}, {length} bytes)");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountStoppedBeforeZeroCopy(uint destination)
    {
        if (_counters.CountDroppedAndShouldLog(1, out long total))
            _counters.LogDropped(1, total, $"device no longer running before a zero-copy message to 0x{destination:X} was delivered");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountDestroyedInFlight(uint destination)
    {
        if (_counters.CountDroppedAndShouldLog(1, out long total))
            _counters.LogDropped(1, total, $"endpoint 0x{destination:X} destroyed while a message was in flight");
    }
}
