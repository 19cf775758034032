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
}
