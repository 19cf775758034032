using VirtioRpmsg.Cli;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>
/// The round trips of <c>rpmsg ping</c> (<see cref="EchoLoop.Exchange"/>) in one process: they allocate nothing in steady
/// state, with the host caller-polled (the ping's <c>--wait poll</c>) or blocking; the warm-up's round trips are made
/// (and checked) but not recorded.
/// </summary>
public sealed class EchoLoopTests
{
    [Theory]
    [InlineData(RpmsgWaitStrategy.CallerPoll)]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    public void RoundTrip_SteadyState_AllocatesNothing(RpmsgWaitStrategy hostWait)
    {
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = hostWait, remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        var exchange = new EchoLoop.Exchange(RpmsgEchoTests.BindEcho(loop), 64);
        for (int i = 0; i < 2_000; i++)
            exchange.RoundTrip(CancellationToken.None);

        const int Measured = 5_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Measured; i++)
            exchange.RoundTrip(CancellationToken.None);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Under a byte per round trip: the blocking receive allocated 40 bytes once in 5,000 round trips here (a
        // one-time cost, as the harness counts them); a closure per poll, as the ping had, is tens of bytes each.
        Assert.True(allocated < Measured, $"{allocated} bytes allocated in {Measured} round trips");
        Assert.Equal(2_000 + Measured, exchange.Sequence);
    }

    [Fact]
    public void WarmUp_ShortTime_MakesRoundTripsAndRecordsNone()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        var exchange = new EchoLoop.Exchange(RpmsgEchoTests.BindEcho(loop), 32);
        var histogram = EchoLoop.NewHistogram();

        int warm = EchoLoop.WarmUp(exchange, TimeSpan.FromMilliseconds(1), CancellationToken.None);
        int measured = EchoLoop.Run(exchange, 50, histogram, progress: null, CancellationToken.None);

        Assert.True(warm > 0, "the warm-up made no round trip");
        Assert.Equal(warm + 50, exchange.Sequence);
        Assert.Equal(50, measured);
        Assert.Equal(50, histogram.TotalCount);
    }

    [Fact]
    public void WarmUp_Zero_MakesNoRoundTrip()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        var exchange = new EchoLoop.Exchange(RpmsgEchoTests.BindEcho(loop), 32);

        Assert.Equal(0, EchoLoop.WarmUp(exchange, TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(0, exchange.Sequence);
    }
}
