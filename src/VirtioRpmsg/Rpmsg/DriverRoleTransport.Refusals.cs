using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VirtioRpmsg.Rpmsg;

// What the send and receive paths refuse, worded out of line: string building inlined into a take or a send would
// grow the frame it zeroes on every message (docs/benchmarks-notes.md, nineteenth round).
internal sealed partial class DriverRoleTransport
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNoRxRoom(int id) =>
        throw new InvalidOperationException($"vring 0 has no room to re-post rx buffer {id}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNoTxDescriptor(int id) =>
        throw new InvalidOperationException($"vring 1 has no free descriptor for tx buffer {id}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowForeignRxToken(int token) =>
        throw new InvalidOperationException($"vq0 returned token {token}, which is not an rx buffer");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowForeignTxToken(int token) =>
        throw new InvalidOperationException($"vq1 returned token {token}, which is not a tx buffer");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotTx(int id, int length) =>
        throw new ArgumentOutOfRangeException(nameof(id), id, $"tx buffer {id} of {length} bytes is not a tx buffer of this pool");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotRx(int id) =>
        throw new ArgumentOutOfRangeException(nameof(id), id, $"rx buffer {id} is not an rx buffer of this pool");
}
