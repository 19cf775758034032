using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>
/// A region's memory type in a platform description (<c>"memory"</c>): <c>"normal"</c> or <c>"device"</c>.
/// Absent: Device for uio and devMem regions (mapped uncached), Normal for the rest. Matches the memory
/// layer's <c>SharedMemoryType</c> one to one.
/// </summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformMemoryType>))]
public enum PlatformMemoryType
{
    /// <summary>Cacheable memory: any access width and alignment.</summary>
    Normal,
    /// <summary>Device (uncached) memory: only naturally aligned accesses of at most 8 bytes, no SIMD copies.</summary>
    Device,
}

/// <summary>
/// Barrier strength for the vrings (<c>"barriers"</c>): <c>"innerShareable"</c> (default) or <c>"system"</c>.
/// Matches the memory layer's <c>BarrierDomain</c> one to one; see docs/memory-ordering.md.
/// </summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformBarriers>))]
public enum PlatformBarriers
{
    /// <summary>The runtime's barriers (<c>dmb ish</c>): the peer shares the Linux cores' inner-shareable domain.</summary>
    InnerShareable,
    /// <summary>Linux remoteproc strength (<c>weak_barriers = false</c>): <c>dmb oshst</c>/<c>dmb oshld</c>/<c>dsb sy</c>.</summary>
    System,
}
