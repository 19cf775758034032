using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A reader that polls the rx ring itself gets its message copied straight into its destination
/// (<see cref="RpmsgDirectReceive"/>), but only where no reader could tell: the queue empty, nobody asleep or parked on
/// it, and the message fitting. Driven by hand on caller-polled devices, so which path a message takes is certain.
/// </summary>
public class RpmsgDirectReceiveTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Poll_ReaderWithEmptyQueue_FirstMessageLandsInItsDestination_TheRestQueuedInOrder()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        for (byte i = 1; i <= 3; i++)
            Assert.True(sender.TrySendTo(0x500, [i, i, i]));
        var destination = new byte[8];
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, destination);
        Assert.Equal(3, loop.Host.Rx.Poll(ref direct));
        Assert.True(direct.Done);
        Assert.Equal(new RpmsgReceiveResult(0x501, 3), direct.Result);
        Assert.Equal(new byte[] { 1, 1, 1 }, destination[..3]);
        var next = new byte[8];
        for (byte i = 2; i <= 3; i++)
        {
            Assert.Equal(3, reader.Receive(next, TimeSpan.Zero).Length);
            Assert.Equal(new byte[] { i, i, i }, next[..3]);
        }
        Assert.False(reader.TryReceive(next, TimeSpan.Zero, out _));
        Assert.Equal(3, loop.Host.Counters.RxMessages);
    }

    [Fact]
    public void Poll_MessageAlreadyQueued_TheNewOneQueuesBehindIt()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [1]));
        loop.Host.Poll(); // no reader: queued
        Assert.True(sender.TrySendTo(0x500, [2]));
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]);
        Assert.Equal(1, loop.Host.Rx.Poll(ref direct));
        Assert.False(direct.Done);
        var next = new byte[8];
        reader.Receive(next, TimeSpan.Zero);
        Assert.Equal(1, next[0]);
        reader.Receive(next, TimeSpan.Zero);
        Assert.Equal(2, next[0]);
    }

    [Fact]
    public void Poll_MessageTooBigForTheDestination_StaysQueuedForTheReadersError()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [1, 2, 3]));
        var small = new byte[2];
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, small);
        loop.Host.Rx.Poll(ref direct);
        Assert.False(direct.Done);
        Assert.Equal(new byte[2], small);
        Assert.Throws<ArgumentException>(() => reader.Receive(small, TimeSpan.Zero));
        var fits = new byte[8];
        Assert.Equal(3, reader.Receive(fits, TimeSpan.Zero).Length);
        Assert.Equal(new byte[] { 1, 2, 3 }, fits[..3]);
    }

    [Fact]
    public void Poll_AnAsyncReaderParkedFirst_IsServedFirst()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var parkedInto = new byte[8];
        var parked = reader.ReceiveAsync(parkedInto); // caller-polled: no spin, it parks at once
        Assert.False(parked.IsCompleted);
        Assert.True(sender.TrySendTo(0x500, [7]));
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]);
        loop.Host.Rx.Poll(ref direct);
        Assert.False(direct.Done);
        Assert.True(parked.AsTask().Wait(Bound));
        Assert.Equal(7, parkedInto[0]);
    }

    [Fact]
    public void Poll_MessageForAnotherEndpoint_GoesToItsQueue()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var other = loop.Host.CreateEndpoint(0x502);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x502, [5]));
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]);
        loop.Host.Rx.Poll(ref direct);
        Assert.False(direct.Done);
        var next = new byte[8];
        Assert.Equal(1, other.Receive(next, TimeSpan.Zero).Length);
        Assert.Equal(5, next[0]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Poll_ReaderGotItsMessage_ReturnsWithoutAnotherLook_AnOrdinaryPollLooksAgain(bool reading)
    {
        // The batch's take found the ring empty; a message that lands while the batch is delivered (sent here from a
        // callback of that batch) is left for the next poll when the poll served a reader that got its message (it
        // goes back to its caller), and taken by the same poll otherwise. Nothing is lost either way.
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        int calls = 0;
        loop.Host.CreateEndpoint(0x502, (_, _, payload) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
                Assert.True(sender.TrySendTo(0x502, [2]));
        });
        Assert.True(sender.TrySendTo(0x500, [9]));
        Assert.True(sender.TrySendTo(0x502, [1]));
        var direct = reading ? new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]) : default;

        int handled = loop.Host.Rx.Poll(ref direct);

        Assert.Equal(reading, direct.Done);
        Assert.Equal(reading ? 2 : 3, handled);
        Assert.Equal(reading ? 1 : 2, calls);
        Assert.Equal(reading ? 1 : 0, loop.Host.Poll());
        Assert.Equal(2, calls);
    }

    [Fact]
    public void Poll_AfterTheHandOver_StillHandlesEverythingPendingInTheRing()
    {
        // More than one batch (16 messages): a poll that stopped once the reader had its message would leave the rest
        // in the ring, unkicked, until the dispatcher's next look (or, if it had asked this poll to look for it, its
        // idle re-check).
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var other = loop.Host.CreateEndpoint(0x502);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [1]));
        for (byte i = 0; i < 40; i++)
            Assert.True(sender.TrySendTo(0x502, [i]));
        var direct = new RpmsgDirectReceive(reader.ReceiveQueue!, new byte[8]);
        Assert.Equal(41, loop.Host.Rx.Poll(ref direct));
        Assert.True(direct.Done);
        var next = new byte[8];
        for (byte i = 0; i < 40; i++)
        {
            Assert.True(other.TryReceive(next, TimeSpan.Zero, out _), $"message {i} for the other endpoint was left in the ring");
            Assert.Equal(i, next[0]);
        }
    }

    [Fact]
    public void TryDeliverDirect_DestroyedEndpoint_HandsNothingOver()
    {
        // A destroy racing the delivery: the endpoint was looked up before it was destroyed.
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var queue = reader.ReceiveQueue!;
        reader.Dispose();
        var destination = new byte[8];
        var direct = new RpmsgDirectReceive(queue, destination);
        Assert.False(reader.TryDeliverDirect(0x501, [7], ref direct));
        Assert.False(direct.Done);
        Assert.Equal(new byte[8], destination);
    }

    [Fact]
    public void TryHandDirect_ClosedQueue_HandsNothingOver()
    {
        var queue = new RpmsgEndpointQueue(4);
        queue.Close();
        var direct = new RpmsgDirectReceive(queue, new byte[8]);
        Assert.False(queue.TryHandDirect(0x501, [7], ref direct));
        Assert.False(direct.Done);
    }

    [Fact]
    public void TryHandDirect_OpenEmptyQueue_CopiesIntoTheDestination()
    {
        var queue = new RpmsgEndpointQueue(4);
        var destination = new byte[8];
        var direct = new RpmsgDirectReceive(queue, destination);
        Assert.True(queue.TryHandDirect(0x501, [7, 6], ref direct));
        Assert.True(direct.Done);
        Assert.Equal(new RpmsgReceiveResult(0x501, 2), direct.Result);
        Assert.Equal(new byte[] { 7, 6 }, destination[..2]);
    }

    [Fact]
    public void Poll_EndpointDestroyed_MessageDroppedNotHandedOver()
    {
        using var loop = RpmsgLoopback.BothCallerPoll();
        var reader = loop.Host.CreateEndpoint(0x500);
        var queue = reader.ReceiveQueue!;
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [5]));
        long dropped = loop.Host.Counters.Dropped;
        reader.Dispose();
        var direct = new RpmsgDirectReceive(queue, new byte[8]);
        loop.Host.Rx.Poll(ref direct);
        Assert.False(direct.Done);
        Assert.Equal(dropped + 1, loop.Host.Counters.Dropped);
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.BusyPoll, false)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, true)]
    [InlineData(RpmsgWaitStrategy.Hybrid, false)]
    [InlineData(RpmsgWaitStrategy.Hybrid, true)]
    public async Task EchoThroughSpinningReaders_EveryReplyInOrderAndIntact(RpmsgWaitStrategy wait, bool async)
    {
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = wait;
            o.HybridSpin = TimeSpan.FromSeconds(60);
            o.BusyPollIdleTimeout = TimeSpan.FromSeconds(60);
        });
        loop.Remote.CreateEndpoint(0x600, (ept, src, payload) => ept.TrySendTo(src, payload));
        using var client = loop.Host.CreateEndpoint(0x601, 0x600);
        var reply = new byte[64];
        for (int i = 0; i < 2000; i++)
        {
            var request = BitConverter.GetBytes(i);
            client.Send(request);
            var result = async ? await client.ReceiveAsync(reply) : client.Receive(reply, Bound);
            Assert.Equal(new RpmsgReceiveResult(0x600, 4), result);
            Assert.Equal(i, BitConverter.ToInt32(reply));
        }
        Assert.False(client.TryReceive(reply, TimeSpan.Zero, out _));
    }

    [Theory]
    [InlineData(RpmsgWaitStrategy.BusyPoll)]
    [InlineData(RpmsgWaitStrategy.Hybrid)]
    public async Task SeveralReadersOnOneEndpoint_EveryMessageOnceAndEachReaderInOrder(RpmsgWaitStrategy wait)
    {
        const int Count = 3000;
        using var loop = RpmsgLoopback.Create(host: o => o.WaitStrategy = wait);
        using var endpoint = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        var seen = new int[Count];
        int received = 0;
        using var done = new CancellationTokenSource();

        void Take(int value, ref int last)
        {
            Assert.True(value > last, $"a reader got {value} after {last}");
            last = value;
            Assert.Equal(0, Interlocked.Exchange(ref seen[value], 1));
            if (Interlocked.Increment(ref received) == Count)
                done.Cancel();
        }

        var blocking = Enumerable.Range(0, 2).Select(n => Task.Factory.StartNew(() =>
        {
            var buffer = new byte[8];
            int last = -1;
            while (!done.IsCancellationRequested)
            {
                if (endpoint.TryReceive(buffer, TimeSpan.FromMilliseconds(20), out _))
                    Take(BitConverter.ToInt32(buffer), ref last);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var async = Task.Run(async () =>
        {
            var buffer = new byte[8];
            int last = -1;
            try
            {
                while (true)
                {
                    await endpoint.ReceiveAsync(buffer, done.Token);
                    Take(BitConverter.ToInt32(buffer), ref last);
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        });
        // At most 64 in flight: the queue never fills, so nothing is dropped and every message must arrive.
        for (int i = 0; i < Count; i++)
        {
            var deadline = DateTime.UtcNow + Bound;
            while (i - Volatile.Read(ref received) >= 64)
            {
                Assert.True(DateTime.UtcNow < deadline, $"readers stalled at {received} of {i} sent");
                Thread.Yield();
            }
            sender.SendTo(0x500, BitConverter.GetBytes(i));
        }
        Assert.True(Task.WaitAll([.. blocking, async], Bound), $"readers got {received} of {Count}");
        await Task.WhenAll([.. blocking, async]);
        Assert.Equal(Count, received);
        Assert.Equal(0, endpoint.QueueDrops);
    }
}
