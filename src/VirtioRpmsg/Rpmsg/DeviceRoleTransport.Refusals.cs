using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// What the send and receive paths refuse, worded out of line: string building inlined into a take or a send would
// grow the frame it zeroes on every message (docs/benchmarks-notes.md, nineteenth round).
internal sealed partial class DeviceRoleTransport
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadShape(string field, string what, string shape, int head, int segments) =>
        throw new RpmsgProtocolException(FaultRule.BufferShape, field, (ulong)segments,
            $"{what} at head {head} must be {shape} (segments {segments})");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowSizeMismatch(int length) =>
        throw new RpmsgConfigurationException(FaultRule.BufferSizeMismatch, "buffer size", (ulong)BufferSize, (ulong)length,
            $"the host posts {length}-byte buffers but this side is configured for {BufferSize}-byte buffers");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotAHead(int id, int num) =>
        throw new ArgumentOutOfRangeException(nameof(id), id, $"head {id} is not a vq1 head (num {num})");
}
