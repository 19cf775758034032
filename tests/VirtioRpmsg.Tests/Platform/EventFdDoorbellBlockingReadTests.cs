using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// The eventfd doorbell's long waits block in read() (docs/doorbells.md, "The eventfd doorbell waits in read()"):
/// every way a wait ends (ring, timeout, cancellation, disposal) still ends it, whatever other threads or the peer do.
/// </summary>
public sealed class EventFdDoorbellBlockingReadTests
{
    /// <summary>Runs <paramref name="wait"/> on its own thread and returns once that thread has started.</summary>
    private static Task<bool> StartWaiting(Func<bool> wait)
    {
        using var started = new ManualResetEventSlim();
        var waiter = Task.Factory.StartNew(() =>
        {
            started.Set();
            return wait();
        }, TaskCreationOptions.LongRunning);
        started.Wait(Bounded.Limit);
        return waiter;
    }

    [Fact]
    public void LongWait_BlocksInRead_ARingFromAnotherThreadEndsIt()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        // Kernels since 5.12 read an eventfd with RWF_NOWAIT; the machines this project runs on have one.
        Assert.True(local.BlocksInRead, "the inbound eventfd should be read with a blocking read() on this kernel");
        var waiter = StartWaiting(() => local.Wait(Timeout.InfiniteTimeSpan));
        Assert.True(peer.Ring());
        Assert.True(Bounded.Await(waiter));
        Assert.False(local.Drain());
    }

    [Fact]
    public void LongWait_NothingRings_ReturnsFalseNoEarlierThanTheTimeout()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        var timeout = DescriptorWaiter.BlockingReadMinimum;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(Bounded.Run(() => local.Wait(timeout)));
        Assert.True(watch.Elapsed >= timeout, $"returned after {watch.Elapsed.TotalMilliseconds} ms, before the {timeout.TotalMilliseconds} ms timeout");
        // The deadline timer's wake-up may still land as one spurious count, never as a blocked Drain.
        Bounded.Run(local.Drain);
        Assert.False(Bounded.Run(local.Drain));
    }

    [Fact]
    public void LongWait_Cancelled_ThrowsOperationCanceled()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        using var cts = new CancellationTokenSource();
        var waiter = StartWaiting(() => local.Wait(Timeout.InfiniteTimeSpan, cts.Token));
        // Whether the waiter is already in read() or not yet, it must end with the cancellation.
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Await(waiter));
        // The wait is over: the doorbell still works.
        Assert.True(peer.Ring());
        Assert.True(Bounded.Run(() => local.Wait(Bounded.Limit)));
    }

    [Fact]
    public void LongWait_PeerMadeTheSharedFileNonBlocking_FallsBackToPollAndStillWakesOnARing()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        Assert.True(local.BlocksInRead);
        // The peer holds the same open file (our inbound is its outbound) and may set O_NONBLOCK on it, as a
        // vhost-user back-end does with every eventfd it is given.
        Assert.Equal(0, Native.SetNonBlocking(local.PeerOutbound.Value));
        Assert.False(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum)));
        Assert.False(local.BlocksInRead);
        var waiter = StartWaiting(() => local.Wait(Timeout.InfiniteTimeSpan));
        Assert.True(peer.Ring());
        Assert.True(Bounded.Await(waiter));
    }

    [Fact]
    public void Drain_InboundInBlockingMode_NeverBlocks()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        Assert.True(local.BlocksInRead);
        // A plain read() of the empty, now blocking, counter would never return.
        Assert.False(Bounded.Run(local.Drain));
        Assert.True(peer.Ring());
        Assert.True(Bounded.Run(local.Drain));
        Assert.False(Bounded.Run(local.Drain));
    }

    [Fact]
    public void LongTimedWait_WhileAnotherThreadDrainsInALoop_StillTimesOut()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        using var stop = new CancellationTokenSource();
        // A Drain must not take the count that ends the read at its deadline.
        var drainer = Task.Factory.StartNew(() =>
        {
            int drained = 0;
            while (!stop.IsCancellationRequested)
                drained += local.Drain() ? 1 : 0;
            return drained;
        }, TaskCreationOptions.LongRunning);
        try
        {
            for (int i = 0; i < 5; i++)
                Assert.False(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum), TimeSpan.FromSeconds(10)));
        }
        finally
        {
            stop.Cancel();
        }
        Assert.Equal(0, Bounded.Await(drainer));
    }

    [Fact]
    public void DeadlineWakeUp_MadeAfterTheReadReturnedForARing_ReachesNobodyAfterTheWait()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        // Between the read's return (the peer's ring) and the wait's end, the deadline passes and its wake-up is made.
        local.Waiter.AfterRead = () =>
        {
            local.Waiter.AfterRead = null;
            Assert.True(Readable(local, TimeSpan.FromSeconds(10)), "the deadline's wake-up was never made");
        };
        Assert.True(peer.Ring());
        Assert.True(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum)));
        // The wake-up was for that wait: neither a Drain nor the next wait may take it for a ring.
        Assert.False(Bounded.Run(local.Drain));
        Assert.False(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void DeadlineWakeUp_ToARingAndAfterIt_StillReportsTheRing()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        local.Waiter.AfterRead = () =>
        {
            local.Waiter.AfterRead = null;
            Assert.True(Readable(local, TimeSpan.FromSeconds(10)), "the deadline's wake-up was never made");
            Assert.True(peer.Ring()); // a second ring lands with the wake-up: the wait must not call it a timeout
        };
        Assert.True(peer.Ring());
        Assert.True(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum)));
        Assert.False(Bounded.Run(local.Drain));
    }

    [Fact]
    public void DeadlineWakeUp_AfterAPeersNearMaximumCount_StillReportsTheRing()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        // A hostile peer writes the largest count an eventfd holds; after the read, the waker's 1 and one more ring
        // land: the sum passes 2^64 and must not wrap to "nothing but the waker".
        Assert.Equal(sizeof(ulong), VirtioRpmsg.Interop.Native.Write(local.PeerOutbound.Value, BitConverter.GetBytes(ulong.MaxValue - 1)));
        local.Waiter.AfterRead = () =>
        {
            local.Waiter.AfterRead = null;
            Assert.True(Readable(local, TimeSpan.FromSeconds(10)), "the deadline's wake-up was never made");
            Assert.True(peer.Ring());
        };
        Assert.True(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum)));
        Assert.False(Bounded.Run(local.Drain));
    }

    // Whether the doorbell's inbound counter is non-zero within the timeout (a poll on it, nothing taken).
    private static bool Readable(EventFdDoorbell doorbell, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (VirtioRpmsg.Interop.Native.Poll2(doorbell.PeerOutbound.Value, 0, -1, 0, out int ready) != 0 || (ready & VirtioRpmsg.Interop.Native.ReadyFd) == 0)
        {
            if (DateTime.UtcNow > until)
                return false;
            Thread.Sleep(1);
        }
        return true;
    }

    [Fact]
    public void LongWait_CancelledWhileAnotherThreadDrainsInALoop_EndsEveryTime()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        using var stop = new CancellationTokenSource();
        var drainer = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
                local.Drain();
            return 0;
        }, TaskCreationOptions.LongRunning);
        try
        {
            for (int i = 0; i < 20; i++)
            {
                using var cts = new CancellationTokenSource();
                var waiter = StartWaiting(() =>
                {
                    // A spurious ring (a cancellation's count left from an earlier round) returns true: wait again,
                    // as every caller does after re-checking shared memory.
                    while (local.Wait(Timeout.InfiniteTimeSpan, cts.Token))
                    {
                    }
                    return false;
                });
                cts.Cancel();
                Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Await(waiter, TimeSpan.FromSeconds(10)));
            }
        }
        finally
        {
            stop.Cancel();
        }
        Bounded.Await(drainer);
    }

    [Fact]
    public void LongTimedWait_ThreadPoolStarved_StillTimesOut()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        using var gate = new ManualResetEventSlim();
        // Far more blocking work items than the pool has threads: a deadline that needed a pool thread (a
        // System.Threading.Timer) would not fire until the gate opens.
        var blockers = new Task[64];
        for (int i = 0; i < blockers.Length; i++)
            blockers[i] = Task.Run(() => gate.Wait(2 * Bounded.Limit));
        try
        {
            // It must end while the pool is still blocked: the gate opens only after it.
            Assert.False(Bounded.Run(() => local.Wait(DescriptorWaiter.BlockingReadMinimum)));
            Assert.All(blockers, b => Assert.False(b.IsCompleted));
        }
        finally
        {
            gate.Set();
        }
        Task.WaitAll(blockers, Bounded.Limit);
    }

    [Fact]
    public void LongWait_RingThenCancellation_ARingIsNeverLost()
    {
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        int lost = 0;
        for (int i = 0; i < 200; i++)
        {
            using var cts = new CancellationTokenSource();
            var waiter = StartWaiting(() =>
            {
                try
                {
                    return local.Wait(Timeout.InfiniteTimeSpan, cts.Token);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            });
            Assert.True(peer.Ring());
            cts.Cancel();
            // Either the wait returned the ring, or it was cancelled and the ring is still pending (a read that
            // took the ring together with the cancellation's own count gives the ring back).
            if (!Bounded.Await(waiter) && !local.Drain())
                lost++;
            local.Drain();
        }
        Assert.Equal(0, lost);
    }

    [Fact]
    public void ReceivedDoorbell_DescriptorsThatAreNotEventFds_AreRefusedNamingWhy()
    {
        string name = "vrpmsg-test-notefd-" + Guid.NewGuid().ToString("N");
        using var listener = DescriptorListener.Listen(name);
        using var sender = DescriptorPassing.Connect(name, Bounded.Limit);
        using var receiver = listener.Accept(Bounded.Limit);
        Assert.Equal(0, Native.SocketPair(Native.SockStream, out int a, out int b));
        using var first = new FileDescriptor(a);
        using var second = new FileDescriptor(b);
        sender.SendDoorbellDescriptors("not-eventfds", first, second);
        var e = Assert.Throws<InvalidDataException>(() => receiver.ReceiveDoorbell(Bounded.Limit));
        Assert.Contains("not an eventfd", e.Message);
        Assert.Contains("not-eventfds", e.Message);
    }

    [Fact]
    public void IsEventFd_TellsAnEventFdFromASocket()
    {
        using var doorbell = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        Assert.True(EventFdReads.IsEventFd(doorbell.PeerInbound));
        Assert.Equal(0, Native.SocketPair(Native.SockStream, out int a, out int b));
        using var first = new FileDescriptor(a);
        using var second = new FileDescriptor(b);
        Assert.False(EventFdReads.IsEventFd(first));
    }
}
