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
}
