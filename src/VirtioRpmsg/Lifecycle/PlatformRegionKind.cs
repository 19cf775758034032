using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>Where a region's memory comes from. JSON: "shmFile", "memfd", "uio", "devMem", "anonymous".</summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformRegionKind>))]
public enum PlatformRegionKind
{
    /// <summary>A file, usually in /dev/shm (created when "create" is true).</summary>
    ShmFile,
    /// <summary>An anonymous memfd: the host creates it, the remote receives it over descriptor passing.</summary>
    Memfd,
    /// <summary>Map N of a UIO device (reserved memory exposed by uio_pdrv_genirq).</summary>
    Uio,
    /// <summary>A physical range of /dev/mem; must lie inside "allowedDevMemRanges".</summary>
    DevMem,
    /// <summary>Anonymous shared memory private to this process (tests, in-process loopback).</summary>
    Anonymous,
}
