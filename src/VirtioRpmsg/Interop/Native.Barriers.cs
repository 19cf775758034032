using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

internal static partial class Native
{
    // One barrier instruction each: no GC transition needed, and none of them blocks.
    [LibraryImport(Library, EntryPoint = "vr_barrier_publish")]
    [SuppressGCTransition]
    internal static partial void BarrierPublish();

    [LibraryImport(Library, EntryPoint = "vr_barrier_consume")]
    [SuppressGCTransition]
    internal static partial void BarrierConsume();

    [LibraryImport(Library, EntryPoint = "vr_barrier_full")]
    [SuppressGCTransition]
    internal static partial void BarrierFull();

    // One prefetch instruction per cache line (a hint): no GC transition, never blocks.
    [LibraryImport(Library, EntryPoint = "vr_prefetch_write")]
    [SuppressGCTransition]
    internal static unsafe partial void PrefetchWrite(byte* p, uint bytes);

    [LibraryImport(Library, EntryPoint = "vr_prefetch_read")]
    [SuppressGCTransition]
    internal static unsafe partial void PrefetchRead(byte* p, uint bytes);
}
