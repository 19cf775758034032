using System.Diagnostics;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public sealed class LoopbackDoorbellTests : DoorbellContractTests
{
    protected override DoorbellUnderTest Create()
    {
        var (local, peer) = LoopbackDoorbell.CreatePair();
        return new DoorbellUnderTest(local, () => peer.Ring(), peer.Dispose);
    }

    [Fact]
    public void Ring_PeerAsleep_WakesItAndReturnsAtOnce()
    {
        var (a, b) = LoopbackDoorbell.CreatePair();
        using (a)
        using (b)
        {
            var waiter = Task.Factory.StartNew(() => b.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
            Assert.True(SpinWait.SpinUntil(() => b.Sleepers == 1, Bounded.Limit), "the waiter never went to sleep");
            Assert.True(a.Ring());
            Assert.True(Bounded.Await(waiter));
            Assert.False(b.IsRung); // consumed by the wait
        }
    }

    [Fact]
    public void Wait_PingPongHundredThousandRounds_NoRingSleptThrough()
    {
        // Two threads each wait (no timeout) for the other's ring: a ring lost between a sleeper's look at its word
        // and its sleep would hang one of them, and the bound would fail the test.
        var (a, b) = LoopbackDoorbell.CreatePair();
        using (a)
        using (b)
        {
            const int rounds = 100_000;
            var echo = Task.Factory.StartNew(() =>
            {
                for (int i = 0; i < rounds; i++)
                {
                    b.Wait(Timeout.InfiniteTimeSpan);
                    b.Ring();
                }
            }, TaskCreationOptions.LongRunning);
            int done = Bounded.Run(() =>
            {
                int n = 0;
                for (; n < rounds; n++)
                {
                    a.Ring();
                    a.Wait(Timeout.InfiniteTimeSpan);
                }
                return n;
            }, TimeSpan.FromSeconds(120));
            Bounded.Await(echo.ContinueWith(_ => 0, TaskScheduler.Default), TimeSpan.FromSeconds(120));
            Assert.Equal(rounds, done);
            Assert.Equal(rounds, a.RingCount);
            Assert.Equal(rounds, b.RingCount);
        }
    }

    [Fact]
    public void Dispose_WhileAWaiterSleeps_WakesItWithObjectDisposed()
    {
        var (a, b) = LoopbackDoorbell.CreatePair();
        using (a)
        {
            var waiter = Task.Factory.StartNew(() => b.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
            Assert.True(SpinWait.SpinUntil(() => b.Sleepers == 1, Bounded.Limit), "the waiter never went to sleep");
            b.Dispose();
            Assert.Throws<ObjectDisposedException>(() => Bounded.Await(waiter));
            Assert.False(a.Ring()); // the peer is gone
        }
    }

    [Fact]
    public void Wait_AfterACancelledWait_SleepsUntilTheNextRing()
    {
        // A cancellation's wake-up mark must not stay behind as a ring, nor make the next wait return at once.
        var (a, b) = LoopbackDoorbell.CreatePair();
        using (a)
        using (b)
        {
            using var cts = new CancellationTokenSource();
            var cancelled = Task.Factory.StartNew(() => b.Wait(Timeout.InfiniteTimeSpan, cts.Token), TaskCreationOptions.LongRunning);
            Assert.True(SpinWait.SpinUntil(() => b.Sleepers == 1, Bounded.Limit), "the waiter never went to sleep");
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Await(cancelled));

            Assert.False(b.Drain());
            Assert.False(b.Wait(TimeSpan.FromMilliseconds(50)));
            var waiter = Task.Factory.StartNew(() => b.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
            Assert.True(SpinWait.SpinUntil(() => b.Sleepers == 1, Bounded.Limit), "the second waiter never went to sleep");
            Assert.False(waiter.IsCompleted);
            a.Ring();
            Assert.True(Bounded.Await(waiter));
        }
    }

    [Fact]
    public void Cancel_WhileOtherThreadsWaitOnTheSameEnd_EveryCancellationEndsItsWait()
    {
        // A wake-up that is not a ring (a cancellation) must reach its waiter even when another waiter of the same
        // end wakes first: one that cleared a shared mark left the cancelled waiter asleep for good. The doorbell
        // contract has one waiter per end; the type itself keeps working with several.
        var (a, b) = LoopbackDoorbell.CreatePair();
        using (a)
        using (b)
        {
            using var stop = new CancellationTokenSource();
            var bystanders = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
            {
                while (!stop.IsCancellationRequested)
                    b.Wait(TimeSpan.FromMilliseconds(1));
            }, TaskCreationOptions.LongRunning)).ToArray();
            CancellationTokenSource? current = null;
            int go = -1, ended = -1;
            var waiter = Task.Factory.StartNew(() =>
            {
                for (int i = 0; ; i++)
                {
                    while (Volatile.Read(ref go) < i)
                    {
                        if (stop.IsCancellationRequested)
                            return;
                        Thread.SpinWait(1);
                    }
                    try
                    {
                        b.Wait(Timeout.InfiniteTimeSpan, Volatile.Read(ref current)!.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                    Volatile.Write(ref ended, i);
                }
            }, TaskCreationOptions.LongRunning);

            var random = new Random(1);
            var clock = Stopwatch.StartNew();
            int lost = -1;
            for (int i = 0; i < 2_000 && clock.Elapsed < TimeSpan.FromSeconds(3); i++)
            {
                using var cts = new CancellationTokenSource();
                Volatile.Write(ref current, cts);
                Volatile.Write(ref go, i);
                Thread.SpinWait(random.Next(0, 400));
                cts.Cancel();
                int n = i;
                if (!SpinWait.SpinUntil(() => Volatile.Read(ref ended) == n, TimeSpan.FromSeconds(5)))
                {
                    lost = i;
                    break;
                }
            }
            stop.Cancel();
            // Rings until the waiting threads end (a lost waiter too, whichever thread a ring reaches), so that the
            // test ends either way.
            var all = Task.WhenAll([.. bystanders, waiter]);
            Assert.True(SpinWait.SpinUntil(() => { a.Ring(); return all.IsCompleted; }, Bounded.Limit), "the waiting threads did not end");
            Assert.True(lost < 0, $"cancellation {lost} did not end its Wait within 5 s: its wake-up was lost");
        }
    }
}
