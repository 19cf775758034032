using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Which <c>GetResult</c> of a pooled <see cref="IValueTaskSource"/> may return it to its pool: exactly one per armed
/// wait, the first with that wait's token once it completed. A ValueTask awaited twice, or a <c>GetResult</c> with the
/// token of an earlier wait, would otherwise pool the object a second time: the free list then links it to itself and
/// two later waits share it (a double completion on a pool thread ends the process). Such a call throws
/// <see cref="InvalidOperationException"/> and touches nothing, as <see cref="ManualResetValueTaskSourceCore{TResult}"/>
/// does for a stale token.
/// </summary>
internal struct RpmsgPooledWait
{
    // The armed wait's token plus 1 << 16 (so that token 0 is not "none"); 0 when no wait may be ended.
    private int _armed;

    /// <summary>Marks the wait of <paramref name="version"/> armed (before its ValueTask is handed out).</summary>
    internal void Arm(short version) => Volatile.Write(ref _armed, Tag(version));

    /// <summary>
    /// Ends the armed wait of <paramref name="token"/>, whose <paramref name="status"/> the caller read with that token
    /// (the core's GetStatus throws for a stale one); throws, ending nothing, for a wait not completed or already ended.
    /// Only the caller that ends it may pool the object.
    /// </summary>
    internal void End(short token, ValueTaskSourceStatus status, string source)
    {
        // A compare-exchange, not a flag read: a stale call racing the object's next Arm must not end that wait.
        if (status == ValueTaskSourceStatus.Pending || Interlocked.CompareExchange(ref _armed, 0, Tag(token)) != Tag(token))
            ThrowNotEnded(source, token, status);
    }

    private static int Tag(short version) => (ushort)version | 0x10000;

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotEnded(string source, short token, ValueTaskSourceStatus status) =>
        throw new InvalidOperationException(status == ValueTaskSourceStatus.Pending
            ? $"{source}: GetResult with token {token} before the operation completed"
            : $"{source}: the result of token {token} was already taken (a ValueTask may be awaited only once)");
}
