using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Leases and unmap fencing. Emulation does not reproduce ARM's weak ordering (see
/// docs/arm64-memory-model.md for the written review), but these run the real ARM64 code paths:
/// LSE/exclusive atomics of the lease counter and the closed-bit exchange.
/// </summary>
public static class LeaseChecks
{
    // Upper bound for every wait below: generous for a loaded 2-core machine under emulation.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Leases: the live count follows acquire and dispose", LiveCount);
        yield return new("Leases: unmap while this thread holds a lease throws LeaseHeldException", UnmapUnderOwnLease);
        yield return new("Leases: unmap waits out a lease held on another thread and refuses new ones", UnmapWaitsForOtherThread);
        yield return new("Leases: unmap under concurrent acquirers leaves no lease behind", UnmapUnderConcurrentAcquirers);
        yield return new("Leases: remap bumps the generation, old handles are stale, memfd data survives", RemapGeneration);
    }

    private static void LiveCount()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        Expect.Equal(0L, region.LiveLeases, "live leases before");
        using (var a = region.Acquire())
        using (var b = region.Acquire())
        {
            Expect.Equal(2L, region.LiveLeases, "live leases with two held");
            Expect.Equal(2, MappingLease.HeldByCurrentThread, "leases held by this thread");
        }
        Expect.Equal(0L, region.LiveLeases, "live leases after");
        Expect.Equal(0, MappingLease.HeldByCurrentThread, "leases held by this thread after");
    }

    private static void UnmapUnderOwnLease()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        Expect.Throws<LeaseHeldException>(() =>
        {
            using var lease = region.Acquire();
            region.Unmap();
        }, "Unmap with a lease held by the calling thread");
        Expect.True(region.IsMapped, "region still mapped after the refused unmap");
    }

    private static void UnmapWaitsForOtherThread()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using var lease = region.Acquire();
            lease.WriteUInt32(0, 1);
            held.Set();
            // Holding a lease across a wait is what the library forbids; here it stands in for a slow accessor.
            release.Wait(Bound);
        });
        holder.Start();
        try
        {
            Expect.True(held.Wait(Bound), "holder thread took its lease");
            Expect.Throws<TimeoutException>(() => region.Unmap(TimeSpan.FromMilliseconds(200)), "Unmap with a lease live on another thread");
            Expect.True(!region.IsMapped, "closed to new leases after the timed-out unmap");
            Expect.Throws<RegionClosedException>(() => region.Acquire().Dispose(), "Acquire after the unmap started");
        }
        finally
        {
            release.Set();
            Expect.True(holder.Join(Bound), "holder thread finished");
        }
        region.Unmap(Bound);
        Expect.Equal(0L, region.LiveLeases, "live leases after the unmap");
    }

    private static void UnmapUnderConcurrentAcquirers()
    {
        const int Threads = 3;
        const int LeasesBeforeUnmap = 200;
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-smoke-fence", 4096);
        var counts = new long[Threads];
        var errors = new Exception?[Threads];
        var workers = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        using var lease = region.Acquire();
                        // A write that would fault if the memory were unmapped under the lease.
                        lease.WriteUInt32(id * 8, lease.ReadUInt32(id * 8) + 1);
                        Interlocked.Increment(ref counts[id]);
                    }
                }
                catch (RegionClosedException)
                {
                    // Expected end: the unmap fenced this thread off.
                }
                catch (Exception e)
                {
                    errors[id] = e;
                }
            });
            workers[t].Start();
        }
        long deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        var spin = new SpinWait();
        while (Enumerable.Range(0, Threads).Any(i => Volatile.Read(ref counts[i]) < LeasesBeforeUnmap && Volatile.Read(ref errors[i]) is null))
        {
            Expect.True(Environment.TickCount64 < deadline, "every worker took its first leases in time");
            spin.SpinOnce();
        }
        region.Unmap(Bound);
        foreach (var w in workers)
            Expect.True(w.Join(Bound), "worker stopped after the unmap");
        foreach (var e in errors)
            Expect.True(e is null, $"worker failed: {e}");
        Expect.Equal(0L, region.LiveLeases, "live leases after the unmap");
        Expect.True(!region.IsMapped, "region unmapped");
    }

    private static void RemapGeneration()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-smoke-remap", 4096);
        int before = region.Generation;
        var handle = region.Bind();
        using (var lease = handle.Acquire())
            lease.WriteUInt32Release(64, 0xABCD_0123);
        region.Unmap();
        region.Remap();
        Expect.Equal(before + 1, region.Generation, "generation after unmap + remap");
        Expect.True(!handle.IsCurrent, "old handle is not current");
        Expect.Throws<StaleMappingException>(() => handle.Acquire().Dispose(), "lease through the old handle");
        using var fresh = region.Bind().Acquire();
        Expect.Equal(0xABCD_0123u, fresh.ReadUInt32Acquire(64), "memfd contents after remap");
    }
}
