using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// One user-path echo measurement (cross-process, depth 1): the round-trip latency, the bytes allocated per
/// message by the whole host process, and (hybrid, blocking Receive only) the host process's CPU while the
/// application waits in Receive with nothing arriving (1.0 = one core). A case that failed or did not finish in
/// its bound has <see cref="Failure"/> set (and an empty latency): the report shows it instead of stopping.
/// <see cref="Probe"/>: the C baseline just before and after the case, when the runner measured it.
/// </summary>
public sealed record UserPathResult(UserPath Path, RpmsgWaitStrategy Wait, int PayloadSize, LatencySummary Latency, double AllocatedBytesPerMessage, double? IdleCpu = null, string? Failure = null, PlacementProbe? Probe = null)
{
    /// <summary>A case that did not complete: why.</summary>
    public static UserPathResult Failed(UserPath path, RpmsgWaitStrategy wait, int payloadSize, string failure) =>
        new(path, wait, payloadSize, new LatencySummary(0, 0, 0, 0, 0, 0, 0), double.NaN, Failure: failure);
}
