using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgDispatcherThreadTests
{
    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, 0)]
    [InlineData(RpmsgWaitStrategy.Hybrid, 7)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, 9)]
    public void SpinBudget_PerStrategy_IsTheConfiguredSpin(RpmsgWaitStrategy strategy, int expectedMs)
    {
        var options = new RpmsgDeviceOptions
        {
            WaitStrategy = strategy,
            HybridSpin = TimeSpan.FromMilliseconds(7),
            BusyPollIdleTimeout = TimeSpan.FromMilliseconds(9),
        };
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RpmsgDispatcherThread.SpinBudget(options));
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, true)]
    [InlineData(RpmsgWaitStrategy.Hybrid, true)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, true)]
    [InlineData(RpmsgWaitStrategy.CallerPoll, false)]
    public void HasThread_PerStrategy_OnlyCallerPollHasNone(RpmsgWaitStrategy strategy, bool expected) =>
        Assert.Equal(expected, RpmsgDispatcherThread.HasThread(strategy));

    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    public void Echo_EachStrategy_RoundTrips(RpmsgWaitStrategy strategy)
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = strategy, remote: o => o.WaitStrategy = strategy);
        loop.Remote.CreateEndpoint(0x400, (ept, source, payload) => ept.SendTo(source, payload));
        var queue = loop.Host.CreateEndpoint(0x500);
        queue.SendTo(0x400, [42]);
        var buffer = new byte[1];
        Assert.Equal(0x400u, queue.Receive(buffer, TimeSpan.FromSeconds(30)).Source);
        Assert.Equal(42, buffer[0]);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    public void IdleDevice_AfterItsSpinBudget_WaitsWithoutSpinningAgainUntilTrafficComes(RpmsgWaitStrategy strategy)
    {
        // A short budget and recheck: spinning again after every recheck would begin about 20 spins in the window.
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = strategy;
                o.BusyPollIdleTimeout = TimeSpan.FromMilliseconds(20);
                o.HybridSpin = TimeSpan.FromMilliseconds(20);
                o.IdleRecheckInterval = TimeSpan.FromMilliseconds(5);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        loop.Remote.CreateEndpoint(0x400, (ept, source, payload) => ept.SendTo(source, payload));
        // A callback endpoint: its replies are the dispatcher's to handle (a queue reader would take them itself).
        int replies = 0;
        using var replied = new SemaphoreSlim(0);
        var host = loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            Interlocked.Increment(ref replies);
            replied.Release();
        });
        host.SendTo(0x400, [1]);
        Assert.True(replied.Wait(TimeSpan.FromSeconds(30)), "no echo");
        var thread = loop.Host.DispatcherThread!;

        // Idle: the spin that followed the echo (spent already, or about to be) is the last one.
        long before = thread.SpentSpins;
        Thread.Sleep(500);
        long idleSpins = thread.SpentSpins - before;

        // Traffic again: it gets through, and the loop spins for the next message.
        host.SendTo(0x400, [2]);
        Assert.True(replied.Wait(TimeSpan.FromSeconds(30)), "no echo after the idle time");
        Assert.Equal(2, Volatile.Read(ref replies));
        // The one that followed the echo may run out after the first look, and a margin of one: spinning again after
        // every recheck spent 18-19 budgets.
        Assert.True(idleSpins <= 2, $"the idle dispatcher spent {idleSpins} spin budgets in 500 ms");
        Assert.True(SpinsAfter(thread, before + idleSpins), "the dispatcher did not spin again after the message");
    }

    // The loop spins right after it handled the message, on its own thread, and spends the budget: wait for it, bounded.
    private static bool SpinsAfter(RpmsgDispatcherThread thread, long count)
    {
        var bound = System.Diagnostics.Stopwatch.StartNew();
        while (thread.SpentSpins <= count)
        {
            if (bound.Elapsed > TimeSpan.FromSeconds(30))
                return false;
            Thread.Yield();
        }
        return true;
    }
}
