namespace VirtioRpmsg.Memory;

/// <summary>What a region's memory comes from.</summary>
public enum RegionBacking
{
    /// <summary>A file, usually in /dev/shm (simulation, OpenAMP's Linux-userspace machine).</summary>
    SharedMemoryFile,
    /// <summary>An anonymous memfd, shareable with another process by passing its descriptor.</summary>
    MemFd,
    /// <summary>Map N of a UIO device (/dev/uioX at offset N * page size).</summary>
    Uio,
    /// <summary>A physical range of /dev/mem, opened with O_SYNC.</summary>
    DevMem,
    /// <summary>Anonymous shared memory private to this process tree (tests).</summary>
    Anonymous,
}
