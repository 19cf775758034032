using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// One memory region of a <see cref="PlatformDescription"/>: where its memory comes from and at
/// which device address the remote sees it. Kind-specific fields are rejected on other kinds.
/// </summary>
public sealed record RegionDescription
{
    /// <summary>Unique name; the resource table, vring region and mailbox refer to regions by it.</summary>
    [JsonRequired]
    public string Name { get; init; } = "";

    /// <summary>What backs the region: shared-memory file, memfd, UIO map, /dev/mem range or anonymous memory.</summary>
    [JsonRequired]
    public PlatformRegionKind Kind { get; init; }

    /// <summary>Device address of the first byte. Required except for uio (sysfs addr) and devMem (the physical address).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? DeviceAddress { get; init; }

    /// <summary>Size in bytes. Required except for uio, where sysfs gives it (and a given size must match).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? Size { get; init; }

    /// <summary>Surround the mapping with inaccessible pages (tests: an overrun faults instead of corrupting).</summary>
    public bool? GuardPages { get; init; }

    /// <summary>
    /// Normal or Device memory; absent: Device for uio and devMem (mapped uncached), Normal otherwise. Declare
    /// "device" for memory the remote maps uncached, or to run a simulation under the Device-memory rules.
    /// </summary>
    public PlatformMemoryType? Memory { get; init; }

    /// <summary>shmFile: the file. devMem: the memory device (default /dev/mem).</summary>
    public string? Path { get; init; }

    /// <summary>shmFile: create the file (or size it) when true; it must exist when false (default).</summary>
    public bool? Create { get; init; }

    /// <summary>uio: "uio0" or "/dev/uio0". Exactly one of this and <see cref="DeviceName"/>.</summary>
    public string? Device { get; init; }

    /// <summary>uio: the device's name in sysfs (<c>/sys/class/uio/uioN/name</c>), searched for at open.</summary>
    public string? DeviceName { get; init; }

    /// <summary>uio: the map number N (default 0).</summary>
    public int? MapIndex { get; init; }

    /// <summary>uio: the UIO class tree (default /sys/class/uio; tests use a fake tree).</summary>
    public string? SysfsRoot { get; init; }

    /// <summary>devMem: the physical address (an offset into /dev/mem).</summary>
    [JsonConverter(typeof(JsonHexConverter))]
    public ulong? PhysicalAddress { get; init; }
}
