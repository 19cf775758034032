using System.Diagnostics;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>The IDoorbell contract, run against every implementation.</summary>
public abstract class DoorbellContractTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);

    protected abstract DoorbellUnderTest Create();

    [Fact]
    public void Wait_NotRung_ReturnsFalseAfterTimeout()
    {
        using var d = Create();
        var sw = Stopwatch.StartNew();
        bool rung = Bounded.Run(() => d.Local.Wait(Short));
        sw.Stop();
        Assert.False(rung);
        Assert.True(sw.Elapsed >= Short - TimeSpan.FromMilliseconds(1), $"returned after {sw.Elapsed.TotalMilliseconds} ms, before the 100 ms timeout");
    }

    [Fact]
    public void Wait_ZeroTimeoutNotRung_ReturnsFalse()
    {
        using var d = Create();
        Assert.False(Bounded.Run(() => d.Local.Wait(TimeSpan.Zero)));
    }

    [Fact]
    public void Wait_RungBefore_ReturnsTrue()
    {
        using var d = Create();
        d.RingFromPeer();
        Assert.True(Bounded.Run(() => d.Local.Wait(Bounded.Limit)));
    }

    [Fact]
    public void Wait_RungFromAnotherThreadWhileWaiting_ReturnsTrue()
    {
        using var d = Create();
        var waiter = Task.Factory.StartNew(() => d.Local.Wait(Timeout.InfiniteTimeSpan), TaskCreationOptions.LongRunning);
        // Ring later from another thread (as the cancel test cancels later), so the ring usually lands
        // while the waiter is blocked; the test is correct whichever comes first.
        var ring = Task.Delay(Short).ContinueWith(_ => d.RingFromPeer(), TaskScheduler.Default);
        Assert.True(Bounded.Await(waiter));
        ring.Wait();
    }

    [Fact]
    public void Wait_AlreadyCancelled_ThrowsOperationCanceledEvenIfRung()
    {
        using var d = Create();
        d.RingFromPeer();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => d.Local.Wait(Bounded.Limit, cts.Token));
    }

    [Fact]
    public void Wait_CancelledWhileWaiting_ThrowsOperationCanceled()
    {
        using var d = Create();
        using var cts = new CancellationTokenSource();
        var waiter = Task.Factory.StartNew(() => d.Local.Wait(Timeout.InfiniteTimeSpan, cts.Token), TaskCreationOptions.LongRunning);
        cts.CancelAfter(Short);
        Assert.ThrowsAny<OperationCanceledException>(() => Bounded.Await(waiter));
    }

    [Fact]
    public void Wait_WhileHoldingLease_ThrowsLeaseHeldException()
    {
        using var d = Create();
        using var region = SharedMemoryRegion.CreateAnonymous(4096, name: "vrpmsg-test-lease");
        using var lease = region.Acquire();
        Exception? caught = null;
        try
        {
            d.Local.Wait(Short);
        }
        catch (Exception e)
        {
            caught = e;
        }
        Assert.IsType<LeaseHeldException>(caught);
    }

    [Fact]
    public void Wait_NegativeTimeout_ThrowsArgumentOutOfRange()
    {
        using var d = Create();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => d.Local.Wait(TimeSpan.FromMilliseconds(-2)));
        Assert.Equal("timeout", e.ParamName);
    }

    [Fact]
    public void Ring_AfterWarmUp_AllocatesNothing()
    {
        using var d = Create();
        var allocated = ThreadAllocation.Measure(100, 10_000, () => d.Local.Ring());
        allocated.AssertNone();
    }

    [Fact]
    public void Ring_HundredThousandTimesWithNobodyWaiting_Completes()
    {
        using var d = Create();
        int delivered = Bounded.Run(() =>
        {
            int n = 0;
            for (int i = 0; i < 100_000; i++)
                n += d.Local.Ring() ? 1 : 0;
            return n;
        });
        Assert.InRange(delivered, 0, 100_000);
    }
}
