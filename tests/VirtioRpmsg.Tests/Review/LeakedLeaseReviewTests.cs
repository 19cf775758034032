using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// A lease that is never disposed, on a region nobody references any more: the region's mapping is a SafeHandle, so
/// the finalizer unmaps a forgotten region. It must not do so while that lease is still live on a running thread (a
/// span from it may still be in use): unmapping under a live lease is never an option, as for an explicit Unmap. Once
/// the lease's thread has ended, the mapping goes at a later collection.
/// </summary>
public sealed class LeakedLeaseReviewTests
{
    [Fact]
    public void ForgottenRegion_WithALiveLeakedLease_IsNotUnmappedUntilTheLeaseThreadEnds()
    {
        string name = "vrpmsg-leaked-lease-" + Guid.NewGuid().ToString("N")[..8];
        string outcome = "the probe did not run";
        // On a thread of its own: the leaked lease dies with that thread instead of staying in a test thread's table.
        var thread = new Thread(() => outcome = Probe(name));
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the probe thread did not finish");
        Assert.Equal("mapped while the lease was live, read back 0x5A", outcome);

        // The lease died with its thread: the forgotten mapping is not kept for ever.
        for (int attempt = 0; attempt < 5 && MapsMention(name); attempt++)
            Collect();
        Assert.False(MapsMention(name), $"the forgotten region '{name}' is still mapped after its lease's thread ended");
    }

    // Optimized from the first call (no tier-0 code, which keeps every local alive to the end of the method).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static string Probe(string name)
    {
        var span = LeakedLeaseSpan(name);
        span[0] = 0x5A;
        if (!MapsMention(name))
            return "not mapped after it was created";
        Collect();
        // The span is touched only while the memory is mapped, so a failure never faults the test host.
        return MapsMention(name) ? $"mapped while the lease was live, read back 0x{span[0]:X2}" : "unmapped by the finalizer while a lease on it was live";
    }

    // The lease is never disposed (the misuse), and the region is reachable from nothing once this returns; the span
    // stands for one still in use after the lease variable's last use, which the JIT may treat as its end of life.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Span<byte> LeakedLeaseSpan(string name)
    {
        var lease = SharedMemoryRegion.CreateMemFd(name, 0x4000).Acquire();
        var span = lease.GetSpan(0, 64);
        return MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(span), span.Length);
    }

    private static void Collect()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private static bool MapsMention(string memfdName) =>
        File.ReadLines("/proc/self/maps").Any(line => line.Contains("/memfd:" + memfdName, StringComparison.Ordinal));
}
