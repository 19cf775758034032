using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

internal static partial class Native
{
    /// <summary>MEMBARRIER_CMD_PRIVATE_EXPEDITED in the membarrier query mask.</summary>
    internal const int MembarrierPrivateExpedited = 1 << 3;

    [LibraryImport(Library, EntryPoint = "vr_membarrier_query")]
    internal static partial int MembarrierQuery();
}
