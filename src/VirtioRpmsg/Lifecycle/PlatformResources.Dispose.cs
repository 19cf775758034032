using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Lifecycle;

// The teardown: every region unmapped (also past one whose leases outlive the drain), created files removed once.
public sealed partial class PlatformResources
{
    /// <summary>
    /// Unmaps every region (in reverse order), then (a host) removes the files Open created; a peer that
    /// mapped one keeps its mapping. A remote's files are its program's (it may outlive this object). Doorbells made by <see cref="CreateDoorbell(PlatformDoorbellOptions?)"/> are the caller's.
    /// A region whose leases outlive the drain stays closed and mapped (every other region is still unmapped) and
    /// <see cref="TimeoutException"/> is thrown at the end; a later Dispose finishes it. Called on a thread that holds a
    /// lease, it throws <see cref="LeaseHeldException"/> and changes nothing.
    /// </summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _tornDown))
            return; // every region unmapped: nothing left, so nothing to refuse either (Dispose stays idempotent)
        // Before anything changes: the unmaps below would refuse one by one, and nothing could finish them later.
        MappingLease.ThrowIfHeld("PlatformResources.Dispose");
        bool first = !_disposed;
        _disposed = true;
        TimeoutException? timedOut = null;
        try
        {
            // Every region, also after one whose leases outlived the drain (idempotent: a region already done returns at once).
            for (int i = _regions.Length - 1; i >= 0; i--)
            {
                try
                {
                    _regions[i].Dispose(DisposeDrainTimeout);
                }
                catch (TimeoutException e)
                {
                    timedOut ??= e;
                }
            }
        }
        finally
        {
            if (first)
                PlatformRegions.DeleteCreatedFiles(_createdFiles);
        }
        if (timedOut is not null)
            throw timedOut;
        Volatile.Write(ref _tornDown, true);
    }

    private bool _tornDown; // a Dispose unmapped every region

    /// <summary>How long Dispose waits for the leases on each region (tests shorten it).</summary>
    internal TimeSpan DisposeDrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
