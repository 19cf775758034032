using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Queue-style endpoints (RPMsg-Lite's rpmsg_queue): ReceiveAsync, blocking receive with timeout.</summary>
public class RpmsgQueueTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ReceiveAsync_MessagesArrive_InOrder()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        for (byte i = 0; i < 10; i++)
            sender.SendTo(0x500, [i, i]);
        var buffer = new byte[16];
        for (byte i = 0; i < 10; i++)
        {
            var r = await queue.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
            Assert.Equal(0x501u, r.Source);
            Assert.Equal(2, r.Length);
            Assert.Equal(i, buffer[0]);
        }
    }

    [Fact]
    public async Task ReceiveAsync_Cancelled_Throws()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x500);
        using var cts = new CancellationTokenSource();
        var pending = queue.ReceiveAsync(new byte[8], cts.Token).AsTask();
        Assert.False(pending.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public void Receive_NothingArrives_TimesOut()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x500);
        Assert.Throws<TimeoutException>(() => queue.Receive(new byte[8], TimeSpan.FromMilliseconds(50)));
        Assert.False(queue.TryReceive(new byte[8], TimeSpan.Zero, out _));
    }

    [Fact]
    public void Receive_DestinationTooSmall_ThrowsAndKeepsMessage()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x500);
        loop.Remote.CreateEndpoint(0x501).SendTo(0x500, [1, 2, 3, 4]);
        Assert.Throws<ArgumentException>(() => queue.Receive(new byte[2], Bound));
        var buffer = new byte[4];
        Assert.Equal(4, queue.Receive(buffer, Bound).Length);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, buffer);
    }

    [Fact]
    public void Receive_QueueFull_DropsAndCounts()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.EndpointQueueCapacity = 4);
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        for (byte i = 0; i < 6; i++)
            sender.SendTo(0x500, [i]);
        loop.WaitUntil(() => queue.QueueDrops == 2, "two drops");
        var buffer = new byte[1];
        for (byte i = 0; i < 4; i++)
        {
            queue.Receive(buffer, Bound);
            Assert.Equal(i, buffer[0]);
        }
    }

    [Fact]
    public void Receive_AfterDestroy_ThrowsObjectDisposed()
    {
        using var loop = RpmsgLoopback.Create();
        var queue = loop.Host.CreateEndpoint(0x500);
        var waiting = Task.Run(() => queue.Receive(new byte[8], Bound));
        Assert.False(waiting.Wait(20));
        queue.Dispose();
        Assert.Throws<ObjectDisposedException>(() => waiting.GetAwaiter().GetResult());
    }

    [Fact]
    public void TryReceive_ZeroTimeout_TakesOnlyWhatIsQueued_AlsoInsideACallback_AndReportsADestroyedEndpoint()
    {
        // Caller-polled: a message is queued exactly when the test polls. A zero timeout takes its own branch (no
        // deadline); this pins what it shares with the waiting one.
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var buffer = new byte[8];
        bool? takenInside = null;
        Exception? waitingInside = null;
        loop.Host.CreateEndpoint(0x502, (_, _, _) =>
        {
            takenInside = queue.TryReceive(buffer, TimeSpan.Zero, out _); // does not wait: allowed in a callback
            waitingInside = Record.Exception(() => queue.TryReceive(buffer, TimeSpan.FromMilliseconds(1), out _));
        });

        Assert.True(sender.TrySendTo(0x500, [1, 2, 3]));
        Assert.Equal(1, loop.Host.Poll());
        Assert.True(queue.TryReceive(buffer, TimeSpan.Zero, out var r));
        Assert.Equal(3, r.Length);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer[..3]);
        Assert.False(queue.TryReceive(buffer, TimeSpan.Zero, out _));

        Assert.True(sender.TrySendTo(0x502, [9]));
        Assert.Equal(1, loop.Host.Poll());
        Assert.False(takenInside);
        Assert.IsType<InvalidOperationException>(waitingInside);

        queue.Dispose();
        Assert.Throws<ObjectDisposedException>(() => queue.TryReceive(buffer, TimeSpan.Zero, out _));
    }
}
