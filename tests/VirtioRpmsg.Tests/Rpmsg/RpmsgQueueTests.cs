using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

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

    // A ValueTask awaited twice (a common mistake): the second GetResult is refused, as ManualResetValueTaskSourceCore
    // refuses a stale token. It returned the result again and put the pooled waiter back in the pool a second time.
    [Fact]
    public void ReceiveAsync_ResultTakenTwice_SecondGetResultThrowsInvalidOperation()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var receive = pipe.Endpoint.ReceiveAsync(new byte[16]);
        Assert.False(receive.IsCompleted); // parked: a pooled waiter
        Deliver(loop, peer, [1]);
        loop.WaitUntil(() => receive.IsCompleted, "the receive completes");
        Assert.Equal(1, receive.GetAwaiter().GetResult().Length);

        Assert.Throws<InvalidOperationException>(() => receive.GetAwaiter().GetResult());
    }

    // What the waiter pooled twice did: the free list linked it to itself, two later receives shared it, and the second
    // completion threw on a pool thread, which ended the test host. Both receives must get their own message.
    [Fact]
    public async Task ReceiveAsync_AfterAStaleGetResult_TwoWaitingReceivesEachGetTheirOwnMessage()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var ept = pipe.Endpoint;
        var first = ept.ReceiveAsync(new byte[16]);
        Assert.False(first.IsCompleted);
        Deliver(loop, peer, [1]);
        loop.WaitUntil(() => first.IsCompleted, "the first receive completes");
        Assert.Equal(1, first.GetAwaiter().GetResult().Length);
        var stale = Record.Exception(() => first.GetAwaiter().GetResult()); // misuse: must not touch the pool again

        var bufA = new byte[16];
        var bufB = new byte[16];
        var a = ept.ReceiveAsync(bufA).AsTask();
        var b = ept.ReceiveAsync(bufB).AsTask();
        Deliver(loop, peer, [0xA], [0xB]);
        await Task.WhenAny(Task.WhenAll(a, b), Task.Delay(Bound));

        Assert.True(a.IsCompletedSuccessfully && b.IsCompletedSuccessfully && bufA[0] == 0xA && bufB[0] == 0xB,
            $"stale GetResult: {(stale is null ? "no exception" : stale.GetType().Name)}; a: {a.Status} {a.Exception?.InnerException?.Message}; " +
            $"b: {b.Status} {b.Exception?.InnerException?.Message}; bufA[0]=0x{bufA[0]:X} bufB[0]=0x{bufB[0]:X}");
    }
}
