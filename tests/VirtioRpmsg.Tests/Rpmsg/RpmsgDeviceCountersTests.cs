using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgDeviceCountersTests
{
    private static RpmsgDeviceCounters Create() => new("dev", NullLogger.Instance);

    [Theory]
    [InlineData(1, true)]
    [InlineData(10, true)]
    [InlineData(11, false)]
    [InlineData(999, false)]
    [InlineData(1000, true)]
    [InlineData(2000, true)]
    public void ShouldLog_Count_FirstTenThenEveryThousandth(long count, bool expected) =>
        Assert.Equal(expected, RpmsgDeviceCounters.ShouldLog(count));

    [Fact]
    public void Snapshot_AfterCounting_ReportsEachCounter()
    {
        var counters = Create();
        counters.CountTx();
        counters.CountTx();
        counters.CountRx();
        counters.CountTxWait();
        counters.CountDroppedAndShouldLog(1, out _);
        counters.CountErrorAndShouldLog(out _);
        counters.CountBreak(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "f", 0, "m"));
        counters.CountDuplicateAnnouncement("svc", 1);
        counters.ReceiveCallbackFailed(0x400, new InvalidOperationException());
        counters.DriverCallbackFailed(new InvalidOperationException(), "probe", "svc");

        Assert.Equal(new RpmsgCounters(2, 1, 1, 1, 2, 2, 1), counters.Snapshot());
    }

    [Fact]
    public void Raise_HandlerThrows_CountedNotPropagated()
    {
        var counters = Create();
        counters.Raise(() => throw new InvalidOperationException("handler"));
        Assert.Equal(1, counters.Snapshot().CallbackErrors);
    }
}
