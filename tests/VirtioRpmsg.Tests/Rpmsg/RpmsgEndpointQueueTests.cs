using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgEndpointQueueTests
{
    [Fact]
    public void TryEnqueue_Full_RefusesWithoutBlockingAndKeepsOlderMessages()
    {
        var queue = new RpmsgEndpointQueue(2);
        Assert.True(queue.TryEnqueue(1, [1]));
        Assert.True(queue.TryEnqueue(2, [2]));
        Assert.False(queue.TryEnqueue(3, [3]));
        var buffer = new byte[4];
        Assert.True(queue.TryDequeue(buffer, out var r));
        Assert.Equal(1u, r.Source);
        Assert.True(queue.TryDequeue(buffer, out r));
        Assert.Equal(2u, r.Source);
        Assert.False(queue.TryDequeue(buffer, out _));
    }

    [Fact]
    public void ReadersWithLargeAndSmallDestinations_AtOnce_GetEveryMessageExactlyOnce_InOrder()
    {
        // A destination that fits any message reads without the peek and size check; one that does not peeks first.
        // Both at once against a writer: a read must never take a message other than the one its peek checked.
        const int Count = 20_000, Largest = 16;
        var queue = new RpmsgEndpointQueue(64, largestMessage: Largest);
        var writer = new Thread(() =>
        {
            var payload = new byte[Largest];
            for (int i = 0; i < Count; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                while (!queue.TryEnqueue(1, payload.AsSpan(0, 4 + i % (Largest - 3))))
                    Thread.Yield();
            }
            queue.Close();
        });
        List<int> Read(int size)
        {
            var got = new List<int>();
            var buffer = new byte[size];
            while (!queue.IsClosed)
            {
                try
                {
                    if (queue.TryDequeue(buffer, out _))
                        got.Add(BitConverter.ToInt32(buffer));
                    else
                        Thread.Yield();
                }
                catch (ArgumentException)
                {
                    Thread.Yield(); // too large for this reader: left for the other
                }
            }
            return got;
        }
        var large = Task.Factory.StartNew(() => Read(Largest), TaskCreationOptions.LongRunning);
        var small = Task.Factory.StartNew(() => Read(8), TaskCreationOptions.LongRunning);
        writer.Start();
        Assert.True(Task.WaitAll([large, small], TimeSpan.FromMinutes(2)), "the readers did not finish");
        writer.Join();

        // Messages over 8 bytes only the large reader can take; how the rest splits depends on the machine.
        Assert.True(large.Result.Count > 0, $"the large reader got nothing ({small.Result.Count} / {large.Result.Count})");
        Assert.Equal(Enumerable.Range(0, Count), small.Result.Concat(large.Result).Order());
        Assert.Equal(small.Result.Order(), small.Result);
        Assert.Equal(large.Result.Order(), large.Result);
    }

    [Fact]
    public void TryDequeue_DestinationTooSmall_ThrowsAndKeepsMessage()
    {
        var queue = new RpmsgEndpointQueue(4);
        queue.TryEnqueue(7, [1, 2, 3]);
        Assert.Throws<ArgumentException>(() => queue.TryDequeue(new byte[2], out _));
        var buffer = new byte[3];
        Assert.True(queue.TryDequeue(buffer, out var r));
        Assert.Equal(3, r.Length);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer);
    }

    [Fact]
    public void Close_WithQueuedMessages_DrainsFirstThenIsClosed()
    {
        var queue = new RpmsgEndpointQueue(4);
        queue.TryEnqueue(1, [1]);
        queue.Close();
        Assert.False(queue.TryEnqueue(2, [2]));
        Assert.False(queue.IsClosed);
        Assert.True(queue.TryDequeue(new byte[1], out _));
        Assert.True(queue.IsClosed);
    }

    [Fact]
    public void Wait_NothingArrives_ReturnsFalseAfterTimeout()
    {
        var queue = new RpmsgEndpointQueue(4);
        Assert.False(Wait(queue, 20, CancellationToken.None));
    }

    [Fact]
    public void Wait_ManyTimedOutWaits_ThenMessage_WaitReturnsTrue()
    {
        var queue = new RpmsgEndpointQueue(4);
        for (int i = 0; i < 50; i++)
            Assert.False(Wait(queue, 0, CancellationToken.None));
        queue.TryEnqueue(1, [1]);
        Assert.True(Wait(queue, 0, CancellationToken.None));
        Assert.True(queue.TryDequeue(new byte[1], out _));
    }

    [Fact]
    public void Wait_MessageFromAnotherThread_ReturnsTrue()
    {
        var queue = new RpmsgEndpointQueue(4);
        var waiter = Task.Run(() => Wait(queue, -1, CancellationToken.None));
        queue.TryEnqueue(1, [1]);
        Assert.True(waiter.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(waiter.Result);
    }

    [Fact]
    public void Wait_Closed_ReturnsTrueSoTheCallerSeesIsClosed()
    {
        var queue = new RpmsgEndpointQueue(4);
        var waiter = Task.Run(() => Wait(queue, -1, CancellationToken.None));
        queue.Close();
        Assert.True(waiter.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(queue.IsClosed);
    }

    [Fact]
    public void Wait_Cancelled_ThrowsWithTheCallersToken()
    {
        var queue = new RpmsgEndpointQueue(4);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var ex = Assert.ThrowsAny<OperationCanceledException>(() => Wait(queue, 10_000, cts.Token));
        Assert.Equal(cts.Token, ex.CancellationToken);
    }

    [Fact]
    public async Task ReceiveAsync_Closed_FaultsWithTheOwnersReason()
    {
        var queue = new RpmsgEndpointQueue(4);
        queue.Close();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await queue.ReceiveAsync(new byte[8], () => new InvalidOperationException("closed: the reason"), CancellationToken.None));
        Assert.Equal("closed: the reason", e.Message);
    }

    [Fact]
    public async Task ReceiveAsync_ParkedReaders_AreServedInOrderAndACancelledOneIsSkipped()
    {
        var queue = new RpmsgEndpointQueue(4);
        using var cancel = new CancellationTokenSource();
        static Exception Closed() => new InvalidOperationException("closed");
        var first = queue.ReceiveAsync(new byte[8], Closed, CancellationToken.None);
        var cancelled = queue.ReceiveAsync(new byte[8], Closed, cancel.Token);
        var third = queue.ReceiveAsync(new byte[8], Closed, CancellationToken.None);
        Assert.False(first.IsCompleted || cancelled.IsCompleted || third.IsCompleted, "nothing queued: all three park");

        cancel.Cancel();
        Assert.True(queue.TryEnqueue(0x10, [1]));
        Assert.True(queue.TryEnqueue(0x20, [2, 2]));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        Assert.Equal(new RpmsgReceiveResult(0x10, 1), await first);
        Assert.Equal(new RpmsgReceiveResult(0x20, 2), await third);
    }

    [Fact]
    public async Task ReceiveAsync_ParkedThenClosed_FaultsWithTheOwnersReason()
    {
        var queue = new RpmsgEndpointQueue(4);
        var parked = queue.ReceiveAsync(new byte[8], () => new InvalidOperationException("closed: destroyed"), CancellationToken.None);
        Assert.False(parked.IsCompleted, "nothing queued: the reader parks");

        queue.Close();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await parked);
        Assert.Equal("closed: destroyed", e.Message);
    }

    [Fact]
    public void Wait_BlockingReaderAgainstWriterWithoutLock_NoLostWakeUp()
    {
        // The writer takes the readers' lock only when a reader counted itself asleep; a lost
        // wake-up would leave the reader blocked forever (Wait(-1)) with messages queued.
        const int count = 20_000;
        var queue = new RpmsgEndpointQueue(4);
        var reader = Task.Run(() =>
        {
            Span<byte> into = stackalloc byte[4];
            for (int i = 0; i < count; i++)
            {
                while (!queue.TryDequeue(into, out _))
                    Wait(queue, -1, CancellationToken.None);
                if (BitConverter.ToInt32(into) != i)
                    return i;
            }
            return count;
        });
        var spin = new SpinWait();
        for (int i = 0; i < count; i++)
        {
            while (!queue.TryEnqueue(1, BitConverter.GetBytes(i)))
                spin.SpinOnce();
        }
        Assert.True(reader.Wait(TimeSpan.FromSeconds(60)), "the reader missed a wake-up");
        Assert.Equal(count, reader.Result);
    }

    // A wait with no destination of its own: whatever arrives is queued.
    private static bool Wait(RpmsgEndpointQueue queue, int milliseconds, CancellationToken cancellationToken)
    {
        var none = default(RpmsgDirectReceive);
        return queue.Wait(milliseconds, cancellationToken, ref none);
    }
}
