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
    public void Send_RingFullUntilDeadline_ThrowsTimeoutAndLeavesNoWaiter()
    {
        using var loop = FullRing();
        Assert.Throws<TimeoutException>(() => loop.Host.Tx.Send(0x500, 0x400, [0], Deadline.Within(TimeSpan.FromMilliseconds(30)), CancellationToken.None));
        Assert.Equal(0, loop.Host.Tx.Waiters);
        Assert.Equal(1, loop.Host.Counters.TxBufferWaits);
    }

    [Fact]
    public void Send_RingFull_WakesWhenThePeerReturnsBuffers()
    {
        using var loop = FullRing();
        long before = loop.Host.Counters.TxBufferWaits;
        var sending = Task.Run(() => loop.Host.Tx.Send(0x500, 0x400, [1], Deadline.Within(Bound), CancellationToken.None));
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
        var sending = loop.Host.Tx.SendAsync(0x500, 0x400, new byte[] { 1 }, Deadline.Within(Bound), CancellationToken.None).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, before);
        loop.Host.Stop("test");
        await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => sending.WaitAsync(Bound));
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
