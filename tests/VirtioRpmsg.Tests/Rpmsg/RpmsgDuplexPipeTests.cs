using System.Collections.Concurrent;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// <see cref="RpmsgDuplexPipe"/> without thread hops: a flush sends on the flushing thread (so, with both devices
/// caller-polled, the message is in the ring when the flush returns), waits for buffers asynchronously, can be
/// cancelled, and the output's completion still sends what was not flushed. Input: <see cref="RpmsgPipeReaderTests"/>.
/// </summary>
public class RpmsgDuplexPipeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static (RpmsgLoopback Loop, RpmsgEndpoint Host, ConcurrentQueue<byte[]> Received) Pair()
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var received = new ConcurrentQueue<byte[]>();
        loop.Remote.CreateEndpoint(0x400, (_, _, payload) => received.Enqueue(payload.ToArray()));
        return (loop, loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400), received);
    }

    private static byte[] Pattern(int n, int seed)
    {
        var data = new byte[n];
        for (int i = 0; i < n; i++)
            data[i] = (byte)(i * 13 + seed);
        return data;
    }

    /// <summary>Fills the host's tx ring (the remote does not poll): the next send finds no free buffer.</summary>
    private static int FillTxRing(RpmsgEndpoint host)
    {
        int sent = 0;
        while (host.TrySend([0xEE]))
            sent++;
        return sent;
    }

    [Fact]
    public async Task Flush_WithFreeBuffers_SendsEveryMessageBeforeItReturns()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        for (int round = 0; round < 3; round++)
        {
            var data = Pattern(1200, round);
            var flush = pipe.Output.WriteAsync(data);

            Assert.True(flush.IsCompletedSuccessfully, "a flush with free tx buffers completes synchronously");
            Assert.Equal(3, loop.Remote.Poll()); // already in the ring: 496 + 496 + 208 bytes
            Assert.Equal(data, received.SelectMany(m => m).ToArray());
            Assert.Equal([496, 496, 208], received.Select(m => m.Length).ToArray());
            received.Clear();
        }
    }

    [Fact]
    public async Task Flush_NoFreeBuffer_WaitsAndSendsOnceBuffersComeBack()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        int filler = FillTxRing(host);
        var data = Pattern(64, 1);

        var flush = pipe.Output.WriteAsync(data);
        Assert.False(flush.IsCompleted, "no tx buffer is free: the flush must wait");

        Assert.Equal(filler, loop.Remote.Poll()); // consumes the fillers: their buffers go back to the host
        loop.Host.Poll();                         // reclaims them and wakes the waiting send
        var result = await flush.AsTask().WaitAsync(Bound);
        Assert.False(result.IsCanceled);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(data, received.Last());
    }

    [Fact]
    public async Task CancelPendingFlush_WhileWaiting_EndsCancelledAndKeepsTheBytesForTheNextFlush()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        int filler = FillTxRing(host);
        var data = Pattern(64, 2);

        var flush = pipe.Output.WriteAsync(data);
        Assert.False(flush.IsCompleted);
        pipe.Output.CancelPendingFlush();
        var cancelled = await flush.AsTask().WaitAsync(Bound);
        Assert.True(cancelled.IsCanceled);

        Assert.Equal(filler, loop.Remote.Poll());
        loop.Host.Poll();
        var again = pipe.Output.FlushAsync();
        Assert.True(again.IsCompletedSuccessfully);
        Assert.False((await again).IsCanceled);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(data, received.Last());
    }

    [Fact]
    public async Task CancelPendingFlush_WithNoFlushWaiting_CancelsTheNextFlushOnly()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        pipe.Output.CancelPendingFlush();

        Assert.True((await pipe.Output.WriteAsync(Pattern(10, 3))).IsCanceled);
        Assert.Equal(0, loop.Remote.Poll());
        Assert.False((await pipe.Output.FlushAsync()).IsCanceled);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(Pattern(10, 3), received.Single());
    }

    [Fact]
    public async Task CompleteOutput_WithUnflushedBytes_SendsThemAndEndsCompletion()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        var data = Pattern(100, 4);
        data.CopyTo(pipe.Output.GetSpan(100));
        pipe.Output.Advance(100);

        pipe.Output.Complete();

        await pipe.Completion.WaitAsync(Bound);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(data, received.Single());
        Assert.Throws<InvalidOperationException>(() => pipe.Output.GetSpan());
    }

    [Fact]
    public async Task CompleteOutput_NoFreeBuffer_CompletionEndsOnceTheRestIsSent()
    {
        var (loop, host, received) = Pair();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(host);
        int filler = FillTxRing(host);
        var data = Pattern(30, 5);
        data.CopyTo(pipe.Output.GetSpan(30));
        pipe.Output.Advance(30);

        pipe.Output.Complete();
        Assert.False(pipe.Completion.IsCompleted, "the rest waits for a tx buffer");

        Assert.Equal(filler, loop.Remote.Poll());
        loop.Host.Poll();
        await pipe.Completion.WaitAsync(Bound);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(data, received.Last());
    }

    [Fact]
    public async Task Complete_WhileAFlushWaitsForBuffers_SendsTheBytesOnceAfterThatFlush()
    {
        // As the pipe's DisposeAsync does from another task: the waiting flush still owns the buffer, so Complete
        // must leave the rest to it (it sent the bytes twice, and returned the buffer to the pool under the flush).
        var (loop, host, received) = Pair();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(host);
        int filler = FillTxRing(host);
        var data = Pattern(64, 7);
        var flush = pipe.Output.WriteAsync(data);
        Assert.False(flush.IsCompleted);

        pipe.Output.Complete();
        Assert.False(pipe.Completion.IsCompleted); // not before the flush that holds the bytes ends
        Assert.Equal(filler, loop.Remote.Poll());   // buffers come back
        loop.Host.Poll();                           // the waiting flush is woken and sends

        Assert.False((await flush.AsTask().WaitAsync(Bound)).IsCanceled);
        await pipe.Completion.WaitAsync(Bound);
        loop.Remote.Poll();
        Assert.Equal(1, received.Count(m => m.AsSpan().SequenceEqual(data)));
    }

    [Fact]
    public async Task DisposeAsync_Twice_OrFromTwoTasksAtOnce_IsHarmless()
    {
        var (loop, host, _) = Pair();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(host);
        var both = new[] { pipe.DisposeAsync().AsTask(), Task.Run(async () => await pipe.DisposeAsync()) };
        await Task.WhenAll(both).WaitAsync(Bound);
        await pipe.DisposeAsync(); // once more, after both ended
        Assert.True((await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound)).IsCompleted, "the dispose completed Input");
    }

    [Fact]
    public async Task APipeOverAStoppedDevice_FaultsInputWithWhyTheDeviceEnded()
    {
        var (loop, host, _) = Pair();
        using var _ = loop;
        loop.Host.Stop("test stops");
        var pipe = new RpmsgDuplexPipe(host); // its first read meets the destroyed endpoint
        var e = await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => pipe.Input.ReadAsync().AsTask().WaitAsync(Bound));
        Assert.Contains("test stops", e.Message);
        await pipe.DisposeAsync();
    }
}
