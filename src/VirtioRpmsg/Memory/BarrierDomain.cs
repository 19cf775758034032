namespace VirtioRpmsg.Memory;

/// <summary>
/// Which observers the ring barriers must order memory for. ARM64 barriers take a shareability domain:
/// the runtime's own fences (<c>Interlocked.MemoryBarrier</c> = <c>dmb ish</c>) cover only the inner-shareable
/// domain, the Linux cores. A remote core outside it (a Cortex-M/R, a DSP) needs the outer-shareable or
/// full-system forms, as Linux uses for remoteproc vrings (<c>weak_barriers = false</c>). See docs/memory-ordering.md.
/// </summary>
public enum BarrierDomain
{
    /// <summary>
    /// The runtime's barriers: load-acquire / store-release and <c>dmb ish</c> (Linux <c>weak_barriers = true</c>).
    /// Right when the peer is another process or a core in the same inner-shareable domain. The default.
    /// </summary>
    InnerShareable,

    /// <summary>
    /// Linux's remoteproc strength: <c>dmb oshst</c> before an index is published, <c>dmb oshld</c> after one is
    /// read, <c>dsb sy</c> for the full fence before a notification check (x86-64: <c>mfence</c> for the full fence).
    /// </summary>
    System,
}
