using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Lifecycle;

// The application's mapping leases that outlive a teardown's drain: the next set-up finishes the unmap, and an automatic
// recovery they block waits for them instead of failing.
public sealed partial class RemoteProcessor
{
    // Under _transition (read by the monitor too): an automatic recovery found a region still leased by the application and
    // waits; the monitor starts it once no lease is live any more (a closed region takes none, so the count only falls).
    private volatile bool _recoveryAwaitsLeases;

    /// <summary>
    /// A region a teardown could not unmap (closed, still mapped) because the application still holds leases on it (an
    /// open rx view, an unsent zero-copy tx buffer of an earlier session); null if none. It takes no new lease.
    /// </summary>
    private SharedMemoryRegion? LeasedRegion()
    {
        foreach (var region in _platform.Regions)
        {
            if (!region.IsMapped && region.LiveLeases > 0)
                return region;
        }
        return null;
    }

    /// <summary>Monitor: a recovery waited for the application's leases, and none is live any more.</summary>
    private bool LeasesReleasedForRecovery() => _recoveryAwaitsLeases && LeasedRegion() is null;

    /// <summary>
    /// With <see cref="RemoteProcessorOptions.AutoRecover"/>, a recovery that <paramref name="region"/>'s leases block
    /// waits for them (no thread blocks: the monitor looks at each tick) instead of failing; logged once per wait.
    /// </summary>
    private void AwaitLeases(SharedMemoryRegion region)
    {
        if (!_options.AutoRecover || _recoveryAwaitsLeases)
            return;
        _recoveryAwaitsLeases = true;
        _log.LogWarning("remote processor {Name}: recovery waits until the application ends its {Leases} lease(s) on region '{Region}' "
            + "(an open RpmsgRxView or an unsent RpmsgTxBuffer of the crashed session); it starts by itself then", Name, region.LiveLeases, region.Name);
        RecoveryAwaitingLeases?.Invoke();
    }

    /// <summary>Test hook: an automatic recovery found a region leased by the application and now waits for it (under the transition lock).</summary>
    internal Action? RecoveryAwaitingLeases { get; set; }

    private void RemapAll()
    {
        foreach (var region in _platform.Regions)
        {
            if (region.IsMapped)
                continue;
            // A teardown whose drain timed out left the region closed but mapped; the lease may be gone since.
            // Unmap is idempotent: it finishes that unmap now, or throws a TimeoutException naming the region.
            try
            {
                region.Unmap(_options.UnmapDrainTimeout);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"remote processor '{Name}': region '{region.Name}' is still leased by the application "
                    + $"({region.LiveLeases} lease(s) after {_options.UnmapDrainTimeout.TotalMilliseconds} ms: an open RpmsgRxView or an unsent "
                    + "RpmsgTxBuffer of an earlier session) and cannot be mapped again; dispose them, then try again"
                    + (_options.AutoRecover ? " (a crashed remote's recovery then starts by itself)" : ""), e);
            }
            region.Remap();
        }
    }
}
