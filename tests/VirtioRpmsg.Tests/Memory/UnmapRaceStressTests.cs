using System.Collections.Concurrent;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Seed 000: a write raced a stop that unmapped the shared memory, and the kernel faulted. Here four
/// threads read and write through leases while the test thread unmaps (a real munmap) the region
/// under them, over and over, with every backing. A broken design crashes the test process.
/// </summary>
public class UnmapRaceStressTests
{
    private const int Workers = 4;
    private const int Rounds = 1200;
    // Bounds each worker's round even if the unmapping thread is descheduled for a long time.
    private const int MaxAccessesPerRound = 20_000;
    private const int RegionSize = 4096;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void Unmap_WhileThreadsAccessThroughLeases_EveryAccessCompletesOrIsRefusedAndNoneAfterUnmap()
    {
        var stats = new Stats();
        using var files = new TestFiles();
        using var barrier = new Barrier(Workers + 1);
        using var stop = new CancellationTokenSource();
        Round? current = null;
        var threads = new Thread[Workers];
        for (int w = 0; w < Workers; w++)
        {
            int worker = w;
            threads[w] = new Thread(() => WorkerLoop(worker, barrier, () => Volatile.Read(ref current)!, stats, stop.Token))
            { IsBackground = true, Name = "lease-stress-" + w };
            threads[w].Start();
        }

        // One long-lived region for the unmap-then-remap rounds: handles bound before must go stale.
        using var remapped = SharedMemoryRegion.CreateMemFd("vrpmsg-test-remap", RegionSize);
        var random = new Random(20261125);
        try
        {
            for (int r = 0; r < Rounds; r++)
            {
                var kind = (RoundKind)(r % 4);
                string? shmPath = kind == RoundKind.ShmFile ? files.ShmPath() : null;
                var region = kind switch
                {
                    RoundKind.AnonymousGuarded => SharedMemoryRegion.CreateAnonymous(RegionSize, guardPages: true),
                    RoundKind.MemFd => SharedMemoryRegion.CreateMemFd("vrpmsg-test", RegionSize),
                    RoundKind.ShmFile => SharedMemoryRegion.CreateFile(shmPath!, RegionSize),
                    _ => remapped,
                };
                var round = new Round(region, region.Bind(), kind == RoundKind.RemapHandle);
                Volatile.Write(ref current, round);
                Assert.True(barrier.SignalAndWait(Bound), "workers did not start the round");

                // A varying head start puts the unmap at a different point of the workers' accesses each round.
                Thread.SpinWait(random.Next(0, 3000));
                region.Unmap();
                Volatile.Write(ref round.UnmapReturned, true);
                if (kind == RoundKind.RemapHandle)
                    region.Remap();

                Assert.True(barrier.SignalAndWait(Bound), "workers did not finish the round");
                Assert.Equal(0, region.LiveLeases);
                if (kind != RoundKind.RemapHandle)
                {
                    Assert.False(region.IsMapped);
                    region.Dispose();
                }
                if (shmPath is not null)
                    File.Delete(shmPath);
                if (!stats.Unexpected.IsEmpty)
                    break;
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var t in threads)
                Assert.True(t.Join(Bound), "a worker did not stop");
        }

        Assert.Empty(stats.Unexpected);
        Assert.Equal(0, stats.AfterUnmap);
        Assert.Equal(0, stats.Corrupt);
        // Both outcomes must really have happened, or the test proved nothing.
        Assert.True(stats.Completed > 0, "no access ever completed");
        Assert.True(stats.Refused > 0, "no access was ever refused");
        Assert.True(stats.StaleRefused > 0, "no handle bound before a remap was ever refused as stale");
    }

    private static void WorkerLoop(int worker, Barrier barrier, Func<Round> current, Stats stats, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (!barrier.SignalAndWait(Bound, stop))
                    return;
                RunRound(worker, current(), stats);
                if (!barrier.SignalAndWait(Bound, stop))
                    return;
            }
        }
        catch (OperationCanceledException)
        {
            // The test is over (or failed) and stopped the workers.
        }
    }

    private static void RunRound(int worker, Round round, Stats stats)
    {
        long slot = worker * 64L;
        for (int n = 0; n < MaxAccessesPerRound; n++)
        {
            // Read before acquiring: if Unmap had already returned, this access must not succeed.
            bool unmapReturned = Volatile.Read(ref round.UnmapReturned);
            try
            {
                using var lease = round.ThroughHandle ? round.Handle.Acquire() : round.Region.Acquire();
                ulong value = ((ulong)worker << 48) | (uint)n;
                lease.WriteUInt64(slot, value);
                lease.WriteByte(lease.Length - 1 - worker, (byte)n);
                if (lease.ReadUInt64(slot) != value)
                    Interlocked.Increment(ref stats.Corrupt);
                if (unmapReturned)
                    Interlocked.Increment(ref stats.AfterUnmap);
                Interlocked.Increment(ref stats.Completed);
            }
            catch (RegionClosedException e)
            {
                Interlocked.Increment(ref stats.Refused);
                if (e is StaleMappingException)
                    Interlocked.Increment(ref stats.StaleRefused);
                if (unmapReturned)
                    return;
            }
            catch (Exception e)
            {
                stats.Unexpected.Enqueue(e);
                return;
            }
        }
    }

    private enum RoundKind
    {
        AnonymousGuarded,
        MemFd,
        ShmFile,
        RemapHandle,
    }

    private sealed class Round(SharedMemoryRegion region, RegionHandle handle, bool throughHandle)
    {
        public readonly SharedMemoryRegion Region = region;
        public readonly RegionHandle Handle = handle;
        public readonly bool ThroughHandle = throughHandle;
        public bool UnmapReturned;
    }

    private sealed class Stats
    {
        public long Completed;
        public long Refused;
        public long StaleRefused;
        public long AfterUnmap;
        public long Corrupt;
        public readonly ConcurrentQueue<Exception> Unexpected = new();
    }
}
