using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

/// <summary>CPU affinity entry points (native/vr_affinity.c).</summary>
internal static partial class Native
{
    [LibraryImport(Library, EntryPoint = "vr_pin_current_thread")]
    internal static partial int PinCurrentThread(int cpu);

    [LibraryImport(Library, EntryPoint = "vr_pin_process")]
    internal static partial int PinThread(int threadId, int cpu);

    [LibraryImport(Library, EntryPoint = "vr_unpin_current_thread")]
    internal static partial int UnpinCurrentThread();

    // sched_getcpu is a vDSO read on Linux: tiny and non-blocking.
    [LibraryImport(Library, EntryPoint = "vr_get_current_cpu")]
    [SuppressGCTransition]
    internal static partial int GetCurrentCpu();

    [LibraryImport(Library, EntryPoint = "vr_affinity_count")]
    internal static partial int AffinityCount();
}
