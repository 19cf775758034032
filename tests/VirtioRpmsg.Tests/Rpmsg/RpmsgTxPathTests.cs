using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgTxPathTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A host whose remote never polls: the 256 tx buffers fill and none come back.</summary>
    private static RpmsgLoopback FullRing()
    {
        var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        for (int i = 0; i < 256; i++)
            Assert.True(loop.Host.Tx.TrySend(0x500, 0x400, [0]));
        return loop;
    }

    [Fact]
    public void TrySend_PayloadTooLarge_Throws()
    {
        using var loop = RpmsgLoopback.Create();
        var ex = Assert.Throws<RpmsgPayloadTooLargeException>(() => loop.Host.Tx.TrySend(0x500, 0x400, new byte[loop.Host.MaxPayload + 1]));
        Assert.Equal(loop.Host.MaxPayload, ex.MaxPayload);
    }

    [Fact]
    public void TrySend_RingFull_ReturnsFalseAndCountsNothing()
    {
        using var loop = FullRing();
        Assert.False(loop.Host.Tx.TrySend(0x500, 0x400, [0]));
        Assert.Equal(256, loop.Host.Counters.TxMessages);
        Assert.Equal(0, loop.Host.Gate.InFlight);
    }

    [Fact]
    public void Send_RingFullPastTheTimeout_ThrowsTimeoutAndLeavesNoWaiter()
    {
        using var loop = FullRing();
        Assert.Throws<TimeoutException>(() => loop.Host.Tx.Send(0x500, 0x400, [0], TimeSpan.FromMilliseconds(30), CancellationToken.None));
        Assert.Equal(0, loop.Host.Tx.Waiters);
        Assert.Equal(1, loop.Host.Counters.TxBufferWaits);
    }

    // The timeout starts when the first try finds no buffer, not when Send is called (so a send that does not wait
    // never reads the clock). A first try slower than the whole timeout (the hook stands for a preempted sender) still
    // leaves the send its whole timeout to wait; started at the call, the deadline had passed before the wait and the
    // send gave up at once. Only a lower bound is asserted: a slow machine can lengthen the wait, never shorten it.
    [Fact]
    public void Send_FirstTrySlowerThanTheTimeout_StillWaitsTheWholeTimeout()
    {
        using var loop = FullRing();
        var timeout = TimeSpan.FromMilliseconds(100);
        long firstTryDone = 0;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            Thread.Sleep(timeout * 2);
            firstTryDone = Stopwatch.GetTimestamp();
        };
        Assert.Throws<TimeoutException>(() => loop.Host.Tx.Send(0x500, 0x400, [1], timeout, CancellationToken.None));
        var waited = Stopwatch.GetElapsedTime(firstTryDone);
        Assert.True(waited >= timeout, $"gave up {waited.TotalMilliseconds} ms after its first try, within its {timeout.TotalMilliseconds} ms timeout");
        Assert.Equal(1, loop.Host.Counters.TxBufferWaits);
    }

    [Fact]
    public void Send_RingFull_WakesWhenThePeerReturnsBuffers()
    {
        using var loop = FullRing();
        long before = loop.Host.Counters.TxBufferWaits;
        var sending = Task.Run(() => loop.Host.Tx.Send(0x500, 0x400, [1], Bound, CancellationToken.None));
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        loop.Remote.Poll(); // consumes and returns the host's tx buffers
        Assert.True(sending.Wait(Bound));
        Assert.Equal(257, loop.Host.Counters.TxMessages);
    }

    [Fact]
    public async Task SendAsync_DeviceStopsWhileWaiting_ThrowsUnavailable()
    {
        using var loop = FullRing();
        long before = loop.Host.Counters.TxBufferWaits;
        var sending = loop.Host.Tx.SendAsync(0x500, 0x400, new byte[] { 1 }, Bound, CancellationToken.None).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        loop.Host.Stop("test");
        await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => sending.WaitAsync(Bound));
    }

    [Fact]
    public async Task SendAsync_RingFullPastTheTimeout_ThrowsTimeoutAndLeavesNoWaiter()
    {
        using var loop = FullRing();
        // The pooled send's own timer ends the wait; the send re-tries once more, then times out.
        await Assert.ThrowsAsync<TimeoutException>(() => loop.Host.Tx.SendAsync(0x500, 0x400, new byte[] { 1 }, TimeSpan.FromMilliseconds(30), CancellationToken.None).AsTask().WaitAsync(Bound));
        Assert.Equal(0, loop.Host.Tx.Waiters);
        Assert.Equal(1, loop.Host.Counters.TxBufferWaits);
    }

    [Fact]
    public async Task SendAsync_CancelledWhileWaiting_LeavesNoWaiterAndTheNextWaitIsWoken()
    {
        using var loop = FullRing();
        using var cts = new CancellationTokenSource();
        long before = loop.Host.Counters.TxBufferWaits;
        var cancelled = loop.Host.Tx.SendAsync(0x500, 0x400, new byte[] { 1 }, Bound, cts.Token).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        cts.Cancel();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(0, loop.Host.Tx.Waiters);

        // The pooled send object serves the next wait, which the returned buffers end.
        var next = loop.Host.Tx.SendAsync(0x500, 0x400, new byte[] { 2 }, Bound, CancellationToken.None).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before + 1);
        Assert.False(next.IsCompleted);
        loop.Remote.Poll(); // consumes and returns the host's tx buffers
        await next.WaitAsync(Bound);
        Assert.Equal(257, loop.Host.Counters.TxMessages);
        Assert.Equal(0, loop.Host.Tx.Waiters);
    }

    [Fact]
    public void Cancel_DeviceStopped_IsNoOp()
    {
        using var loop = RpmsgLoopback.Create();
        Assert.True(loop.Host.Tx.TryAcquire(out var buffer));
        loop.Host.Stop("test");
        loop.Host.Tx.Cancel(buffer.Id);
        Assert.Equal(0, loop.Host.Gate.InFlight);
    }
}
