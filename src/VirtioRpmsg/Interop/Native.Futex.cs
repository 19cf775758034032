using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

/// <summary>A private futex word (native/vr_futex.c): the loopback doorbell's wait and wake.</summary>
internal static partial class Native
{
    /// <summary>Sleeps while <paramref name="word"/> equals <paramref name="expected"/>, at most <paramref name="timeoutNanoseconds"/> (negative: no limit); 0 or -errno.</summary>
    [LibraryImport(Library, EntryPoint = "vr_futex_wait")]
    internal static partial int FutexWait(ref int word, int expected, long timeoutNanoseconds);

    /// <summary>Wakes every thread sleeping on <paramref name="word"/>; never blocks.</summary>
    [LibraryImport(Library, EntryPoint = "vr_futex_wake")]
    internal static partial int FutexWake(ref int word);
}
