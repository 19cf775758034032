using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;
using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipesReviewTests;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-e (6cb2592, 682e12c): what the pipe's Completion reports around a flush that returned IsCompleted after the
/// peer withdrew the channel (the bytes that flush dropped are not "unsent"; bytes written after it are), and Stop's
/// early queue close still leaving what was queued before Stop to its readers.
/// </summary>
public sealed class PipeWithdrawnCompletionRereviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task UnflushedBytes_ThenThePeerWithdraws_ThenComplete_CompletionFaults()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        pipe.Output.GetSpan(3)[..3].Fill(7);
        pipe.Output.Advance(3);
        LastWordsThenDestroy(loop, channel, service);

        pipe.Output.Complete();

        var e = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound));
        Assert.IsType<ObjectDisposedException>(e); // never flushed, never told dropped: reported
    }

    [Fact]
    public async Task AFlushDropped_ThenMoreBytesWritten_ThenDispose_CompletionFaults()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        LastWordsThenDestroy(loop, channel, service);
        Assert.True((await pipe.Output.WriteAsync(new byte[] { 1, 2 }).AsTask().WaitAsync(Bound)).IsCompleted);
        pipe.Output.GetSpan(5)[..5].Fill(7);
        pipe.Output.Advance(5);

        await pipe.DisposeAsync();

        Assert.IsType<ObjectDisposedException>(await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FlushWaitingForBuffers_ThePeerWithdraws_FlushCompleted_AndCompletionSucceeds(bool completeDuringTheFlush)
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        while (channel.Endpoint.TrySend([0]))
        {
            // the remote is not polled: every tx buffer stays with it
        }
        long waits = loop.Host.Counters.TxBufferWaits;
        var flush = pipe.Output.WriteAsync(new byte[] { 1, 2 }).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        if (completeDuringTheFlush)
            pipe.Output.Complete();

        service.Dispose();
        Assert.True(SpinWait.SpinUntil(() => { loop.Host.Poll(); return channel.Endpoint.IsDestroyed; }, Bound), "the host took the DESTROY");

        Assert.True((await flush.WaitAsync(Bound)).IsCompleted);
        await pipe.DisposeAsync();
        await pipe.Completion.WaitAsync(Bound); // the bytes the flush reported dropped are not reported again as unsent
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task QueuedBeforeStop_ReadWhileStopWaitsForACallback_AndAfterIt_ThenUnavailable(bool async)
    {
        using var loop = RpmsgLoopback.Create(host: o => o.ReaderWaitsOnDoorbell = false);
        var queue = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        peer.SendTo(0x500, [1]);
        peer.SendTo(0x500, [2, 2]);
        loop.WaitUntil(() => queue.ReceiveQueue!.Ready(), "the messages are queued");
        using var inCallback = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        loop.Host.CreateEndpoint(0x600, (_, _, _) =>
        {
            inCallback.Set();
            release.Wait(Bound);
        });
        peer.SendTo(0x600, [9]);
        Assert.True(inCallback.Wait(Bound), "the callback did not run");
        var stop = Task.Run(() => loop.Host.Stop());
        Assert.True(SpinWait.SpinUntil(() => queue.ReceiveQueue!.IsClosing, Bound), "Stop did not close the queue");
        var buffer = new byte[16];

        var first = async ? await queue.ReceiveAsync(buffer).AsTask().WaitAsync(Bound) : queue.Receive(buffer, Bound);
        release.Set();
        Assert.True(stop.Wait(Bound), "Stop did not return");
        var second = async ? await queue.ReceiveAsync(buffer).AsTask().WaitAsync(Bound) : queue.Receive(buffer, Bound);

        Assert.Equal(1, first.Length);
        Assert.Equal(2, second.Length);
        var e = await Record.ExceptionAsync(async () =>
        {
            if (async)
                await queue.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
            else
                queue.Receive(buffer, Bound);
        });
        Assert.IsType<RpmsgDeviceUnavailableException>(e);
    }
}
