using VirtioRpmsg.Memory;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Memory;

public class GenerationFencingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void BoundHandle_AfterUnmapAndRemap_FailsStaleWhileNewHandleWorks()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test", 4096);
        var old = region.Bind();
        region.Unmap();
        region.Remap();

        var e = Assert.Throws<StaleMappingException>(() => { using var l = old.Acquire(); });
        Assert.Equal((0, 1), (e.BoundGeneration, e.Generation));
        Assert.Contains("memfd:vrpmsg-test", e.Message, StringComparison.Ordinal);
        Assert.False(old.TryAcquire(out _));
        Assert.False(old.IsCurrent);
        var current = region.Bind();
        Assert.True(current.IsCurrent);
        using var lease = current.Acquire();
        Assert.Equal(1, lease.Generation);
        Assert.Equal(1, region.LiveLeases);
    }

    [Fact]
    public void BoundHandle_WhileUnmapped_FailsClosedNotStale()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var handle = region.Bind();
        region.Unmap();

        var e = Assert.Throws<StaleMappingException>(() => { using var l = handle.Acquire(); });
        Assert.Equal(1, e.Generation);
        var closed = Assert.Throws<RegionClosedException>(() => { using var l = region.Acquire(1); });
        Assert.IsNotType<StaleMappingException>(closed);
        Assert.Equal(0, region.LiveLeases);
    }

    [Theory]
    [InlineData(int.MinValue)]      // int.MinValue << 1 == 0: used to alias generation 0
    [InlineData(int.MinValue + 1)]  // aliases generation 1 the same way
    [InlineData(-1)]
    [InlineData(SharedMemoryRegion.MaxGeneration + 1)]
    public void Acquire_GenerationOutOfRange_ThrowsStaleInsteadOfAliasing(int generation)
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        region.Unmap();
        region.Remap();   // now at generation 1, so both generation 0 and 1 aliases are live risks

        var e = Assert.Throws<StaleMappingException>(() => { using var l = region.Acquire(generation); });
        Assert.Equal(generation, e.BoundGeneration);
        Assert.False(region.TryAcquire(generation, out _));
        Assert.False(new RegionHandle(region, generation).TryAcquire(out _));
        Assert.Equal(0, region.LiveLeases);
    }

    [Fact]
    public void Unmap_CurrentThreadHoldsLease_ThrowsLeaseHeldAndStaysMapped()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        using (var lease = region.Acquire())
        {
            Assert.Equal(1, MappingLease.HeldByCurrentThread);
            var e = Assert.Throws<LeaseHeldException>(() => region.Unmap());
            Assert.Contains("Unmap", e.Message, StringComparison.Ordinal);
            Assert.Contains("(1 held)", e.Message, StringComparison.Ordinal);
            Assert.Contains("RpmsgRxView", e.Message, StringComparison.Ordinal);
            Assert.True(region.IsMapped);
            lease.WriteUInt32(0, 7);
            Assert.Equal(7u, lease.ReadUInt32(0));
        }
        Assert.Equal(0, MappingLease.HeldByCurrentThread);
        region.Unmap();
        Assert.False(region.IsMapped);
    }

    [Fact]
    public void Dispose_CopiedLeaseReleasedTwice_ThrowsWithoutStealingAnotherLeasesCount()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var other = region.Acquire();
        var first = region.Acquire();
        var copy = first;     // a ref struct can still be copied: exactly the misuse to catch
        first.Dispose();
        InvalidOperationException? caught = null;
        try
        {
            copy.Dispose();
        }
        catch (InvalidOperationException e)
        {
            caught = e;
        }

        Assert.NotNull(caught);
        Assert.Contains("released twice", caught.Message, StringComparison.Ordinal);
        // The second release must not have decremented the count 'other' keeps: an unmap now must still wait.
        Assert.Equal(1, region.LiveLeases);
        Assert.Equal(1, MappingLease.HeldByCurrentThread);
        Assert.Throws<TimeoutException>(() => RunOnOtherThread(() => region.Unmap(TimeSpan.Zero)));
        other.WriteUInt32(0, 42);
        other.Dispose();
        Assert.Equal(0, region.LiveLeases);
    }

    [Fact]
    public void Dispose_CopiedLeaseAfterSlotReused_StillDetected()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var first = region.Acquire();
        var copy = first;
        first.Dispose();
        var reuse = region.Acquire();   // takes the slot 'first' had, under a new tag
        bool threw = false;
        try
        {
            copy.Dispose();
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }
        Assert.True(threw, "a stale copy must not release the lease that now uses its slot");
        Assert.Equal(1, region.LiveLeases);
        reuse.Dispose();
        Assert.Equal(0, region.LiveLeases);
    }

    [Fact]
    public void Dispose_SameVariableTwice_IsIdempotent()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var lease = region.Acquire();
        lease.Dispose();
        lease.Dispose();
        Assert.False(lease.IsActive);
        Assert.Equal(0, region.LiveLeases);
    }

    [Fact]
    public void Dispose_LeasesReleasedOutOfOrder_AllCountedOut()
    {
        using var a = SharedMemoryRegion.CreateAnonymous(4096);
        using var b = SharedMemoryRegion.CreateAnonymous(4096);
        var la = a.Acquire();
        var lb = b.Acquire();
        var la2 = a.Acquire();
        la.Dispose();
        lb.Dispose();
        Assert.Equal(1, MappingLease.HeldByCurrentThread);
        la2.Dispose();
        Assert.Equal((0, 0L, 0L), (MappingLease.HeldByCurrentThread, a.LiveLeases, b.LiveLeases));
    }

    [Fact]
    public void Acquire_MoreThanThreadCapacity_ThrowsAndCountsNothingExtra()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var e = Assert.Throws<InvalidOperationException>(() => Nest(region, 65));
        Assert.Contains("64", e.Message, StringComparison.Ordinal);
        Assert.Equal((0, 0L), (MappingLease.HeldByCurrentThread, region.LiveLeases));
    }

    [Fact]
    public void Unmap_LeaseLeakedOnOtherThread_TimesOutWithoutUnmappingThenSucceedsAfterRelease()
    {
        using var region = SharedMemoryRegion.CreateFile(NewShmPath(), 4096);
        try
        {
            using var held = new ManualResetEventSlim();
            using var readNow = new ManualResetEventSlim();
            using var readDone = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            uint readBack = 0;
            Exception? holderFailure = null;
            var holder = new Thread(() =>
            {
                try
                {
                    // Deliberately breaks the "never block while holding" rule: this is the leaked lease.
                    using var lease = region.Acquire();
                    lease.WriteUInt32(0, 0xFEEDBEEF);
                    held.Set();
                    if (!readNow.Wait(Bound))
                        throw new TimeoutException("test did not ask for the read");
                    readBack = lease.ReadUInt32(0);
                    readDone.Set();
                    if (!release.Wait(Bound))
                        throw new TimeoutException("test did not release");
                }
                catch (Exception e)
                {
                    holderFailure = e;
                    readDone.Set();
                }
            });
            holder.Start();
            try
            {
                Assert.True(held.Wait(Bound));

                var timeout = Assert.Throws<TimeoutException>(() => region.Unmap(TimeSpan.FromMilliseconds(50)));
                Assert.Contains("1 lease(s)", timeout.Message, StringComparison.Ordinal);
                Assert.False(region.IsMapped);
                Assert.Throws<RegionClosedException>(() => { using var l = region.Acquire(); });
                Assert.Throws<InvalidOperationException>(() => region.Remap());
                // The memory is still mapped under the live lease: it reads what it wrote.
                readNow.Set();
                Assert.True(readDone.Wait(Bound));
                Assert.Null(holderFailure);
                Assert.Equal(0xFEEDBEEFu, readBack);
            }
            finally
            {
                release.Set();
                Assert.True(holder.Join(Bound));
            }
            region.Unmap(Bound);
            Assert.Equal(0, region.LiveLeases);
            region.Remap();
            using var again = region.Acquire();
            Assert.Equal(0xFEEDBEEFu, again.ReadUInt32(0));
        }
        finally
        {
            File.Delete(region.Name);
        }
    }

    [Fact]
    public void Unmap_LeaseLeakedByThreadThatEnded_DoesNotHoldOffUnmap()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        var leaker = new Thread(() =>
        {
            // Never disposed: the misuse a using declaration prevents. The thread then ends.
            var lease = region.Acquire();
            lease.WriteByte(0, 1);
        });
        leaker.Start();
        Assert.True(leaker.Join(Bound));

        // A thread that has ended can never touch the memory again, so its leaked lease does not count.
        Assert.Equal(0, region.LiveLeases);
        region.Unmap(TimeSpan.FromSeconds(10));
        Assert.False(region.IsMapped);
    }

    [Fact]
    public void Unmap_NegativeTimeout_ThrowsAndStaysMapped()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096);
        Assert.Throws<ArgumentOutOfRangeException>(() => region.Unmap(TimeSpan.FromMilliseconds(-2)));
        Assert.True(region.IsMapped);
        region.Unmap(Timeout.InfiniteTimeSpan);
        Assert.False(region.IsMapped);
    }

    [Fact]
    public void Remap_AfterDispose_ThrowsObjectDisposed()
    {
        var region = SharedMemoryRegion.CreateAnonymous(4096);
        region.Dispose();
        Assert.Throws<ObjectDisposedException>(() => region.Remap());
        Assert.Throws<RegionClosedException>(() => { using var l = region.Acquire(); });
    }

    private static void Nest(SharedMemoryRegion region, int depth)
    {
        if (depth == 0)
            return;
        using var lease = region.Acquire();
        Nest(region, depth - 1);
    }

    private static string NewShmPath() => "/dev/shm/vrpmsg-test-" + Guid.NewGuid().ToString("N");

    // Runs on a thread that holds no lease (Unmap refuses to run on one that does), rethrowing its exception.
    private static void RunOnOtherThread(Action action) => OtherThread.Run(action, Bound);
}
