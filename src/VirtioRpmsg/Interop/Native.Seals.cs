using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

internal static partial class Native
{
    /// <summary>F_SEAL_* bits (linux/fcntl.h).</summary>
    internal const int SealSeal = 0x1, SealShrink = 0x2, SealGrow = 0x4, SealWrite = 0x8, SealFutureWrite = 0x10;

    [LibraryImport(Library, EntryPoint = "vr_memfd_seal")]
    internal static partial int MemfdSeal(int fd);

    [LibraryImport(Library, EntryPoint = "vr_get_seals")]
    internal static partial int GetSeals(int fd, out int seals);
}
