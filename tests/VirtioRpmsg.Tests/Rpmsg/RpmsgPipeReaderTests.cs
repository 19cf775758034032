using System.Buffers;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// <see cref="RpmsgDuplexPipe.Input"/> (<see cref="RpmsgPipeReader"/>): it receives when read, on the reading thread,
/// keeps what was not consumed across reads (in more than one array when it must), and follows the
/// <see cref="PipeReader"/> contract: examined bytes are not returned again until more arrive, cancellation of a pending
/// read, misuse reported, the end of input after what was received.
/// </summary>
public class RpmsgPipeReaderTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // Shared with RpmsgPipeReaderReviewTests.
    internal static (RpmsgLoopback Loop, RpmsgDuplexPipe Pipe, RpmsgEndpoint Peer) CallerPolled(int bufferSize = 512, int vringNum = 256)
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostBufferSize: bufferSize,
            remoteBufferSize: bufferSize,
            vringNum: vringNum);
        var peer = loop.Remote.CreateEndpoint(0x400);
        var pipe = new RpmsgDuplexPipe(loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
        return (loop, pipe, peer);
    }

    internal static void Deliver(RpmsgLoopback loop, RpmsgEndpoint peer, params byte[][] messages)
    {
        foreach (var m in messages)
            Assert.True(peer.TrySendTo(0x500, m));
        Assert.Equal(messages.Length, loop.Host.Poll());
    }

    [Fact]
    public async Task DisposeAsync_NoReadPending_LeavesTheCallersToken()
    {
        // A read with a long-lived token links a source to it; a pipe disposed between reads kept that registration
        // on the caller's token for as long as the token lived (one per pipe).
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        using var longLived = new CancellationTokenSource();
        var reader = (RpmsgPipeReader)pipe.Input;
        Deliver(loop, peer, [1, 2]);
        var read = await pipe.Input.ReadAsync(longLived.Token).AsTask().WaitAsync(Bound);
        pipe.Input.AdvanceTo(read.Buffer.End);
        Assert.True(reader.IsLinkedWithCallerToken, "the read did not link a source to the caller's token (nothing to check)");

        await pipe.DisposeAsync().AsTask().WaitAsync(Bound);

        Assert.False(reader.IsLinkedWithCallerToken, "the disposed pipe still holds a registration on the caller's token");
    }

    [Fact]
    public async Task Read_TakesWhatIsQueuedOnTheReadingThread_AndNothingBeforeItIsAsked()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3], [4, 5], [6]);
        var buffer = new byte[8];
        Assert.True(pipe.Endpoint.TryReceive(buffer, TimeSpan.Zero, out var direct)); // no pump took it: it waited in the queue
        Assert.Equal(3, direct.Length);

        var read = pipe.Input.ReadAsync();

        Assert.True(read.IsCompleted, "a read with messages queued completes at once");
        Assert.Equal(new byte[] { 4, 5, 6 }, (await read).Buffer.ToArray()); // both others, in order, in one read
        Assert.False(pipe.Endpoint.TryReceive(buffer, TimeSpan.Zero, out var none), $"{none.Length} bytes left queued");
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task AdvanceTo_ExaminedToTheEnd_NextReadWaitsForMore_AndKeepsTheUnconsumedBytes()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3]);
        var first = await pipe.Input.ReadAsync();
        pipe.Input.AdvanceTo(first.Buffer.GetPosition(1), first.Buffer.End); // consumed 1 byte, examined all

        var second = pipe.Input.ReadAsync(); // nothing new: it waits
        Assert.False(second.IsCompleted);
        Deliver(loop, peer, [4]);
        var result = await second.AsTask().WaitAsync(Bound);

        Assert.Equal(new byte[] { 2, 3, 4 }, result.Buffer.ToArray());
        pipe.Input.AdvanceTo(result.Buffer.GetPosition(1)); // consumed and examined 1 byte: the rest is returned at once
        var third = pipe.Input.ReadAsync();
        Assert.True(third.IsCompleted);
        Assert.Equal(new byte[] { 3, 4 }, (await third).Buffer.ToArray());
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ManyMessagesKeptUnconsumed_SpanSeveralArrays_AndReadBackInOrder()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        int size = peer.MaxPayload;
        var sent = new List<byte>();
        ReadResult read = default;
        for (int m = 0; m < 24; m++) // 24 x 496 bytes: three 4 KiB arrays and more
        {
            var message = new byte[size];
            for (int i = 0; i < size; i++)
                message[i] = (byte)(m * 31 + i);
            sent.AddRange(message);
            Deliver(loop, peer, message);
            read = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
            if (m < 23)
                pipe.Input.AdvanceTo(read.Buffer.Start, read.Buffer.End); // nothing consumed, all examined
        }

        Assert.False(read.Buffer.IsSingleSegment);
        Assert.Equal(sent.ToArray(), read.Buffer.ToArray());
        pipe.Input.AdvanceTo(read.Buffer.GetPosition(size * 10)); // drop the first arrays
        Assert.True(pipe.Input.TryRead(out var rest));
        Assert.Equal(sent.Skip(size * 10).ToArray(), rest.Buffer.ToArray());
        pipe.Input.AdvanceTo(rest.Buffer.End);
        pipe.Input.Complete();
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task CancelPendingRead_EndsTheParkedReadAsCancelled_ThenReadsGoOn()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var parked = pipe.Input.ReadAsync();
        Assert.False(parked.IsCompleted);

        pipe.Input.CancelPendingRead();

        var cancelled = await parked.AsTask().WaitAsync(Bound);
        Assert.True(cancelled.IsCanceled);
        Assert.False(cancelled.IsCompleted);
        pipe.Input.AdvanceTo(cancelled.Buffer.Start);
        Deliver(loop, peer, [9]);
        var next = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.False(next.IsCanceled);
        Assert.Equal(new byte[] { 9 }, next.Buffer.ToArray());
        pipe.Input.AdvanceTo(next.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task CancelPendingRead_WithNoReadPending_CancelsTheNextReadOnly()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [7]);

        pipe.Input.CancelPendingRead();

        var cancelled = await pipe.Input.ReadAsync();
        Assert.True(cancelled.IsCanceled);
        pipe.Input.AdvanceTo(cancelled.Buffer.Start);
        var next = await pipe.Input.ReadAsync();
        Assert.False(next.IsCanceled);
        Assert.Equal(new byte[] { 7 }, next.Buffer.ToArray());
        pipe.Input.AdvanceTo(next.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ReadAsync_ItsTokenCancelled_Throws_ThenTheNextReadGetsTheMessage()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        using var cancel = new CancellationTokenSource();
        var parked = pipe.Input.ReadAsync(cancel.Token);
        Assert.False(parked.IsCompleted);

        cancel.Cancel();

        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => parked.AsTask().WaitAsync(Bound));
        Assert.Equal(cancel.Token, e.CancellationToken);
        Deliver(loop, peer, [5, 6]);
        var next = await pipe.Input.ReadAsync();
        Assert.Equal(new byte[] { 5, 6 }, next.Buffer.ToArray());
        pipe.Input.AdvanceTo(next.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task ReadAsync_TokenAlreadyCancelled_ThrowsAsAPipeDoes_AndTheHeldBytesStay()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [7, 8]);
        var first = await pipe.Input.ReadAsync();
        pipe.Input.AdvanceTo(first.Buffer.Start); // nothing consumed or examined: the next read returns them again
        var reference = new Pipe();
        await reference.Writer.WriteAsync(new byte[] { 7, 8 });
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        var ours = pipe.Input.ReadAsync(cancel.Token);
        var theirs = reference.Reader.ReadAsync(cancel.Token);

        Assert.True(theirs.IsCanceled, "System.IO.Pipelines' Pipe: a cancelled token cancels the read even with bytes held");
        Assert.True(ours.IsCanceled);
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ours.AsTask());
        Assert.Equal(cancel.Token, e.CancellationToken);
        var again = await pipe.Input.ReadAsync();
        Assert.Equal(new byte[] { 7, 8 }, again.Buffer.ToArray());
        pipe.Input.AdvanceTo(again.Buffer.End);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task Misuse_IsReportedWithWhatWasWrong()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        var notAdvanced = Assert.Throws<InvalidOperationException>(() => pipe.Input.AdvanceTo(default(SequencePosition)));
        Assert.Contains("no read returned a buffer", notAdvanced.Message);

        var parked = pipe.Input.ReadAsync();
        var twice = Assert.Throws<InvalidOperationException>(() => pipe.Input.ReadAsync());
        Assert.Contains("already pending", twice.Message);

        Deliver(loop, peer, [1, 2]);
        var read = await parked.AsTask().WaitAsync(Bound);
        var foreign = new ReadOnlySequence<byte>(new byte[4]);
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => pipe.Input.AdvanceTo(foreign.Start));
        Assert.Equal("consumed", outside.ParamName);
        pipe.Input.AdvanceTo(read.Buffer.End);

        pipe.Input.Complete();
        var after = Assert.Throws<InvalidOperationException>(() => pipe.Input.ReadAsync());
        Assert.Contains("after the reader was completed", after.Message);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task DeviceStoppedAfterAMessage_TheMessageFirst_ThenTheFailure_OnEveryReadAfter()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3]);
        var parked = pipe.Input.ReadAsync(); // takes the message
        var first = await parked;
        pipe.Input.AdvanceTo(first.Buffer.Start); // nothing consumed or examined

        loop.Host.Stop("test stops");

        var again = await pipe.Input.ReadAsync(); // the bytes are kept: nothing is lost
        Assert.Equal(new byte[] { 1, 2, 3 }, again.Buffer.ToArray());
        pipe.Input.AdvanceTo(again.Buffer.End);
        for (int i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => pipe.Input.ReadAsync().AsTask().WaitAsync(Bound));
            Assert.Contains("test stops", e.Message);
        }
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task AParkedRead_CompletedByTheDispatcher_ResumesOffTheDispatcherThread()
    {
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
            o.ReaderWaitsOnDoorbell = false; // the dispatcher thread delivers the message
        });
        var peer = loop.Remote.CreateEndpoint(0x400);
        await using var pipe = new RpmsgDuplexPipe(loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
        var resumed = await Task.Run(async () =>
        {
            var parked = pipe.Input.ReadAsync();
            Assert.False(parked.IsCompleted);
            peer.SendTo(0x500, [4, 2]);
            var read = await parked;
            var where = (Dispatching: loop.Host.IsDispatcherContext, Bytes: read.Buffer.ToArray());
            pipe.Input.AdvanceTo(read.Buffer.End);
            return where;
        }).WaitAsync(Bound);

        Assert.False(resumed.Dispatching, "the reader's continuation ran on the dispatcher");
        Assert.Equal(new byte[] { 4, 2 }, resumed.Bytes);
    }
}
