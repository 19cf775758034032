using System.Runtime.InteropServices;

namespace VirtioRpmsg.Interop;

/// <summary>P/Invoke surface of the native shim (libvrpmsg.so). Functions return 0 or -errno.</summary>
/// <remarks>Split into partial files by area (memory, doorbells) so that each area owns its entry points.</remarks>
internal static unsafe partial class Native
{
    internal const string Library = "vrpmsg";

    internal const int OpenRead = 0;
    internal const int OpenReadWrite = 1;
    internal const int OpenCreate = 2;
    internal const int OpenSync = 3;
    internal const int OpenCreateNew = 4; // O_CREAT | O_EXCL: EEXIST if the file exists
    internal const int OpenWrite = 5; // O_WRONLY: a sysfs attribute, which may not be readable

    [LibraryImport(Library, EntryPoint = "vr_open", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int mode, out int fd);

    [LibraryImport(Library, EntryPoint = "vr_close")]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "vr_fstat_size")]
    internal static partial int FstatSize(int fd, out long size);

    [LibraryImport(Library, EntryPoint = "vr_fstat_block_size")]
    internal static partial int FstatBlockSize(int fd, out long blockSize);

    [LibraryImport(Library, EntryPoint = "vr_ftruncate")]
    internal static partial int Ftruncate(int fd, long size);

    [LibraryImport(Library, EntryPoint = "vr_memfd_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, out int fd);

    [LibraryImport(Library, EntryPoint = "vr_page_size")]
    [SuppressGCTransition]
    internal static partial long PageSize();

    [LibraryImport(Library, EntryPoint = "vr_map")]
    internal static partial int Map(int fd, ulong length, long offset, ulong guard, out nint address);

    [LibraryImport(Library, EntryPoint = "vr_unmap")]
    internal static partial int Unmap(nint address, ulong length, ulong guard);

    // A single store to a device register: tiny and non-blocking, so no GC transition is needed.
    [LibraryImport(Library, EntryPoint = "vr_mmio_write32")]
    [SuppressGCTransition]
    internal static partial void MmioWrite32(uint* register, uint value);

    [LibraryImport(Library, EntryPoint = "vr_mmio_read32")]
    [SuppressGCTransition]
    internal static partial uint MmioRead32(uint* register);
}
