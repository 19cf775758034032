using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Regressions for races and wake-ups found in review of the bus.</summary>
public class RpmsgReviewRegressionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Poll_FromInsideCallback_ThrowsInsteadOfDispatchingReentrantly()
    {
        using var loop = RpmsgLoopback.Create();
        Exception? seen = null;
        var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            seen = Record.Exception(() => ept.Device.Poll());
            done.Set();
        });
        loop.Remote.CreateEndpoint(0x501).SendTo(0x500, [1]);
        Assert.True(done.Wait(Bound));
        Assert.IsType<InvalidOperationException>(seen);
    }

    [Fact]
    public void Poll_WhileDispatcherThreadRuns_NeverDeliversTwice()
    {
        using var loop = RpmsgLoopback.Create();
        const int count = 20_000;
        var seen = new int[count];
        long delivered = 0;
        loop.Host.CreateEndpoint(0x500, (_, _, payload) =>
        {
            Interlocked.Increment(ref seen[BitConverter.ToInt32(payload)]);
            Interlocked.Increment(ref delivered);
        });
        var sender = loop.Remote.CreateEndpoint(0x501);
        using var stop = new CancellationTokenSource();
        var poller = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                loop.Host.Poll();
        });
        for (int i = 0; i < count; i++)
            sender.SendTo(0x500, BitConverter.GetBytes(i), Bound);
        loop.WaitUntil(() => Interlocked.Read(ref delivered) >= count, "all delivered");
        stop.Cancel();
        poller.Wait(Bound);
        Assert.All(seen, n => Assert.Equal(1, n));
        Assert.Equal(RpmsgDeviceState.Running, loop.Host.State);
    }

    [Fact]
    public void ZeroCopySend_AfterStop_ThrowsAndDoesNotTouchTheRing()
    {
        using var loop = RpmsgLoopback.Create();
        var ept = loop.Host.CreateEndpoint(0x500, 0x400u);
        Assert.True(ept.TryGetTxBuffer(out var tx));
        loop.Host.Stop("remote not running");
        long before = loop.HostDoorbell.RingCount;
        bool threw = false;
        try
        {
            tx.Send(1);
        }
        catch (RpmsgDeviceUnavailableException)
        {
            threw = true;
        }
        tx.Dispose();
        Assert.True(threw);
        Assert.Equal(before, loop.HostDoorbell.RingCount);
        Assert.Equal(0, loop.Host.Counters.TxMessages);
    }

    [Fact]
    public void Break_WakesQueueReceiverWithDeviceUnavailable()
    {
        using var loop = RpmsgLoopback.Create(hostBufferSize: 512, remoteBufferSize: 256);
        var queue = loop.Remote.CreateEndpoint(0x430);
        var waiting = Task.Run(() => queue.Receive(new byte[16], Bound));
        Assert.False(waiting.Wait(20));
        // A send on the remote discovers the buffer-size mismatch and breaks the remote device.
        Assert.Throws<RpmsgConfigurationException>(() => queue.SendTo(0x431, [1]));
        var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => waiting.GetAwaiter().GetResult());
        Assert.Equal(RpmsgDeviceState.Broken, ex.State);
    }

    [Fact]
    public void CancelledZeroCopyBuffer_WakesBlockedSender()
    {
        // A five-minute re-check interval: only a real wake-up can finish the send within the bound.
        using var loop = RpmsgLoopback.Create(
            host: o => o.IdleRecheckInterval = TimeSpan.FromMinutes(5),
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var ept = loop.Host.CreateEndpoint(0x500);
        for (int i = 0; i < 255; i++)
            Assert.True(ept.TrySendTo(0x400, [0]));
        Assert.True(ept.TryGetTxBuffer(out var last)); // the 256th and last tx buffer
        long waits = loop.Host.Counters.TxBufferWaits;
        var send = Task.Run(() => ept.SendTo(0x400, [7], Bound));
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        Assert.False(send.IsCompleted);
        last.Dispose(); // given back unsent: the blocked sender must get it
        Assert.True(send.Wait(Bound), "blocked sender was not woken by the returned buffer");
    }

    [Fact]
    public void BlockingReceive_InsideCallback_ThrowsInsteadOfDeadlocking()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x600);
        Exception? seen = null;
        var done = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x500, (_, _, _) =>
        {
            seen = Record.Exception(() => queue.Receive(new byte[8], TimeSpan.FromSeconds(5)));
            done.Set();
        });
        loop.Remote.CreateEndpoint(0x501).SendTo(0x500, [1]);
        Assert.True(done.Wait(Bound));
        Assert.IsType<InvalidOperationException>(seen);
    }
}
