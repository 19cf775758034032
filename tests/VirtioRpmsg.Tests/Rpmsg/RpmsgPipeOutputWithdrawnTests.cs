using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipesReviewTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The pipe's <c>Output</c> once the peer withdrew the channel (its name-service DESTROY): the reader at the other end
/// is gone, which a <see cref="PipeWriter"/> reports as <see cref="FlushResult.IsCompleted"/> (a <c>Pipe</c>'s writer
/// after its reader completed, a socket pipe after the peer closed), not as an exception. <c>Input</c> already read the
/// withdrawal as its end. A flush faulted with <see cref="ObjectDisposedException"/> before.
/// </summary>
public sealed class RpmsgPipeOutputWithdrawnTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FlushAfterThePeerWithdrew_IsCompleted_SendsNothing_AndCompletionSucceeds()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        LastWordsThenDestroy(loop, channel, service);
        long sent = loop.Host.Counters.TxMessages;

        var flushed = await pipe.Output.WriteAsync(new byte[] { 9, 9, 9 }).AsTask().WaitAsync(Bound);
        var empty = await pipe.Output.FlushAsync().AsTask().WaitAsync(Bound);

        Assert.True(flushed.IsCompleted, "a write after the peer's DESTROY: the reader is gone");
        Assert.False(flushed.IsCanceled);
        Assert.True(empty.IsCompleted, "a flush with nothing written reports the gone reader too");
        Assert.Equal(sent, loop.Host.Counters.TxMessages);
        await pipe.Output.CompleteAsync();
        await pipe.Completion.WaitAsync(Bound); // the bytes the flush was told about are not "unsent"
    }

    [Fact]
    public async Task FlushWaitingForTxBuffers_ThePeerWithdraws_EndsCompleted_NotFaulted()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        while (channel.Endpoint.TrySend([0]))
        {
            // the remote is not polled: every tx buffer stays with it
        }
        long waits = loop.Host.Counters.TxBufferWaits;
        var flush = pipe.Output.WriteAsync(new byte[] { 1, 2 }).AsTask();
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        Assert.False(flush.IsCompleted);

        service.Dispose(); // the remote's DESTROY, taken by the host's poll alone
        Assert.True(SpinWait.SpinUntil(() => { loop.Host.Poll(); return channel.Endpoint.IsDestroyed; }, Bound), "the host took the DESTROY");

        var result = await flush.WaitAsync(Bound);
        Assert.True(result.IsCompleted, "the flush waiting when the reader went");
        Assert.False(result.IsCanceled);
    }

    // The application's own destroy is not the reader going: writing to an endpoint it disposed is still a mistake.
    [Fact]
    public async Task FlushAfterTheApplicationDisposedTheEndpoint_StillFaults()
    {
        var (loop, channel, _) = Channel();
        using var __ = loop;
        var pipe = new RpmsgDuplexPipe(channel.Endpoint);
        channel.Endpoint.Dispose();

        var e = await Record.ExceptionAsync(() => pipe.Output.WriteAsync(new byte[] { 1 }).AsTask().WaitAsync(Bound));

        Assert.IsType<ObjectDisposedException>(e);
    }
}
