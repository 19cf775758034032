using System.Runtime.CompilerServices;
using VirtioRpmsg.Interop;

namespace VirtioRpmsg.Memory;

/// <summary>
/// The barriers of the ring protocol at the strength a region asks for (<see cref="BarrierDomain"/>).
/// <see cref="BarrierDomain.InnerShareable"/> adds nothing to the load-acquire / store-release accessors and
/// uses <c>dmb ish</c> (<see cref="Interlocked.MemoryBarrier"/>) for the full fence; <see cref="BarrierDomain.System"/>
/// adds Linux's <c>weak_barriers = false</c> barriers from the native shim. None of them blocks or allocates,
/// so kick/notify stays non-blocking (<c>dsb sy</c> waits for outstanding accesses to complete, not for the peer).
/// </summary>
internal static class SharedMemoryBarriers
{
    /// <summary>Before publishing an index (virtio_wmb): <c>dmb oshst</c> in System mode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BeforePublish(bool system)
    {
        if (system)
            Native.BarrierPublish();
    }

    /// <summary>After reading the peer's index (virtio_rmb): <c>dmb oshld</c> in System mode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AfterConsume(bool system)
    {
        if (system)
            Native.BarrierConsume();
    }

    /// <summary>Store-&gt;load fence before a notification check (virtio_mb): <c>dmb ish</c>, or <c>dsb sy</c> in System mode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Full(bool system)
    {
        if (system)
            Native.BarrierFull();
        else
            Interlocked.MemoryBarrier();
    }
}
