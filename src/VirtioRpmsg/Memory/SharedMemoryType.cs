namespace VirtioRpmsg.Memory;

/// <summary>
/// How the CPU maps a region, which decides what accesses are legal. On ARM64 an uncached mapping
/// (UIO, <c>/dev/mem</c> opened O_SYNC) is Device memory: every access must be naturally aligned, and
/// unaligned SIMD copies or <c>dc zva</c> (both used by ordinary memcpy/memset) fault with SIGBUS.
/// </summary>
public enum SharedMemoryType
{
    /// <summary>Cacheable memory (memfd, /dev/shm files, anonymous): any access width and alignment; fast copies.</summary>
    Normal,

    /// <summary>
    /// Device (or uncached) memory: every access the library makes is naturally aligned and at most 8 bytes
    /// wide, and copies/fills use plain aligned loads and stores with byte head and tail.
    /// </summary>
    Device,
}
