using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// RpmsgStream as a Stream: a zero-length message is not end of stream, Dispose ends a pending read and refuses later
/// use (leaving the endpoint open), one read at a time, and a cancelled token cancels a read.
/// </summary>
public class RpmsgStreamTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    // A read that should end at once; on failure it would wait for ever, so this only bounds the hang.
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(10);

    // A stream over the host endpoint of a caller-polled loop (as the pipe tests'), and the remote's peer endpoint.
    private static (RpmsgLoopback Loop, RpmsgStream Stream, RpmsgEndpoint Peer) CallerPolledStream()
    {
        var (loop, pipe, peer) = CallerPolled();
        return (loop, new RpmsgStream(pipe.Endpoint), peer);
    }

    // Two reads passing the pending check at once both used to start (a plain flag): they shared the reused read object,
    // whose double completion on a pool thread ends the process. The hook holds the first read between its check and
    // its claim until the second has gone through: exactly one may wait.
    [Fact]
    public async Task ReadAsync_TwoReadsPastThePendingCheckAtOnce_OneWaits_TheOtherIsRefused()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        using var secondDone = new ManualResetEventSlim();
        int calls = 0;
        stream.BeforeBeginRead = () =>
        {
            if (Interlocked.Increment(ref calls) == 1)
                Assert.True(secondDone.Wait(Bound), "the second read did not get through");
        };
        var first = Task.Factory.StartNew(() => stream.ReadAsync(new byte[16].AsMemory()), TaskCreationOptions.LongRunning);
        SpinWait.SpinUntil(() => Volatile.Read(ref calls) == 1, Bound);
        var second = stream.ReadAsync(new byte[16].AsMemory());
        secondDone.Set();
        var firstRead = await first.WaitAsync(Bound);
        stream.BeforeBeginRead = null;

        Assert.True(second.IsCompleted != firstRead.IsCompleted, $"second completed {second.IsCompleted}, first {firstRead.IsCompleted}");
        var (waiting, refused) = firstRead.IsCompleted ? (second, firstRead) : (firstRead, second);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await refused);
        Assert.Contains("a read is already pending", e.Message);
        Deliver(loop, peer, [7]);
        Assert.Equal(1, await waiting.AsTask().WaitAsync(Bound));
    }

    [Fact]
    public async Task FlushAsync_CompletesInPlace_AllocatingNothing_AndHonoursACancelledToken()
    {
        var (loop, stream, _) = CallerPolledStream();
        using var _loop = loop;
        await stream.FlushAsync(); // warm
        long before = GC.GetAllocatedBytesForCurrentThread();
        var flush = stream.FlushAsync(CancellationToken.None);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Nothing is buffered: no task, no hop to the thread pool (the base class's FlushAsync queues Flush there).
        Assert.True(flush.IsCompletedSuccessfully, "FlushAsync did not complete in place");
        Assert.Equal(0, allocated);
        var cancelled = stream.FlushAsync(new CancellationToken(canceled: true));
        Assert.True(cancelled.IsCanceled);
    }

    [Fact]
    public void Read_ZeroLengthMessage_IsSkipped_NotEndOfStream()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        Deliver(loop, peer, Array.Empty<byte>(), [9, 8]);

        var buffer = new byte[16];
        int n = stream.Read(buffer, 0, buffer.Length);

        Assert.Equal(new byte[] { 9, 8 }, buffer.AsSpan(0, n).ToArray());
    }

    [Fact]
    public async Task ReadAsync_ZeroLengthMessageQueued_IsSkipped_NotEndOfStream()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        Deliver(loop, peer, Array.Empty<byte>(), [9, 8]);

        var buffer = new byte[16];
        int n = await stream.ReadAsync(buffer.AsMemory()).AsTask().WaitAsync(Bound);

        Assert.Equal(new byte[] { 9, 8 }, buffer.AsSpan(0, n).ToArray());
    }

    // The read waits first, so the zero-length message completes its parked receive: the continuation receives again.
    [Fact]
    public async Task ReadAsync_Waiting_ZeroLengthMessageArrives_WaitsOnForTheNext()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        var buffer = new byte[16];
        var read = stream.ReadAsync(buffer.AsMemory()).AsTask();
        Assert.False(read.IsCompleted);

        Deliver(loop, peer, Array.Empty<byte>());
        Deliver(loop, peer, [7]);
        int n = await read.WaitAsync(Bound);

        Assert.Equal(new byte[] { 7 }, buffer.AsSpan(0, n).ToArray());
    }

    // A consumer built on the Stream contract (CopyToAsync) stopped at the zero-length message and lost what followed.
    [Fact]
    public async Task CopyToAsync_ZeroLengthMessageInTheMiddle_CopiesWhatFollows()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        Deliver(loop, peer, [1, 2], Array.Empty<byte>(), [3, 4]);

        int copied = 0;
        var sink = new CountingStream(n => Interlocked.Add(ref copied, n));
        var copy = stream.CopyToAsync(sink);
        // Ends only on a 0-byte read; otherwise it copies all four bytes and waits for more.
        loop.WaitUntil(() => copy.IsCompleted || Volatile.Read(ref copied) == 4, "the copy ends or copies everything");

        Assert.False(copy.IsCompleted, $"CopyToAsync ended (saw end of stream) after {copied} bytes; message [3,4] is never read");
        stream.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => copy.WaitAsync(Bound));
    }

    // The receive underneath is cancelled too: a message sent after the dispose reaches the endpoint's next reader.
    [Fact]
    public async Task Dispose_EndsAPendingReadAsync_WithObjectDisposed_AndLeavesTheEndpointOpen()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        var read = stream.ReadAsync(new byte[16]).AsTask();
        Assert.False(read.IsCompleted);

        stream.Dispose();
        var ex = await Record.ExceptionAsync(() => read.WaitAsync(HangBound));

        Assert.True(ex is ObjectDisposedException, $"the read pending at Dispose: {(ex is null ? "returned" : ex.GetType().Name)}");
        Assert.False(stream.Endpoint.IsDestroyed);
        Deliver(loop, peer, [5]);
        var buffer = new byte[16];
        var r = await stream.Endpoint.ReceiveAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 5 }, buffer.AsSpan(0, r.Length).ToArray());
    }

    // Dispose before or during the blocking read: either way it ends with ObjectDisposedException, never a hang.
    [Fact]
    public async Task Dispose_EndsABlockingRead_WithObjectDisposed()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        var read = Task.Factory.StartNew(() => stream.Read(new byte[16], 0, 16), TaskCreationOptions.LongRunning);

        stream.Dispose();
        var ex = await Record.ExceptionAsync(() => read.WaitAsync(HangBound));

        Assert.True(ex is ObjectDisposedException, $"the blocking read at Dispose: {(ex is null ? "returned" : ex.GetType().Name)}");
    }

    [Fact]
    public async Task AfterDispose_ReadsAndWritesThrowObjectDisposed_AndCanReadCanWriteAreFalse()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        stream.Dispose();
        Deliver(loop, peer, [5]);

        Assert.False(stream.CanRead);
        Assert.False(stream.CanWrite);
        Assert.Throws<ObjectDisposedException>(() => stream.Read(new byte[16], 0, 16));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.ReadAsync(new byte[16]).AsTask());
        Assert.Throws<ObjectDisposedException>(() => stream.Write([1]));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.WriteAsync(new byte[] { 1 }).AsTask());
        stream.Dispose(); // again: nothing more
    }

    // A second read while one waits would reset the shared read and receive into the same buffer: the first never ended.
    [Fact]
    public async Task ReadAsync_WhileAReadIsPending_ThrowsInvalidOperation_AndTheFirstStillCompletes()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        var first = new byte[16];
        var pending = stream.ReadAsync(first).AsTask();
        Assert.False(pending.IsCompleted);

        var second = stream.ReadAsync(new byte[16]).AsTask();
        Assert.True(second.IsFaulted && second.Exception!.InnerException is InvalidOperationException, $"the second read: {second.Status}");

        Deliver(loop, peer, [6]);
        int n = await pending.WaitAsync(HangBound);
        Assert.Equal(new byte[] { 6 }, first.AsSpan(0, n).ToArray());
    }

    [Fact]
    public async Task ReadAsync_AlreadyCancelledToken_IsCanceled_NotFaulted()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;

        var read = stream.ReadAsync(new byte[16], new CancellationToken(canceled: true)).AsTask();
        await Record.ExceptionAsync(() => read);

        Assert.True(read.IsCanceled, $"status {read.Status}: {read.Exception?.InnerException?.GetType().Name}");
    }

    // A read cancelled while it waits reports the caller's token (the receive saw the stream's linked one).
    [Fact]
    public async Task ReadAsync_CancelledWhileWaiting_IsCanceledWithTheCallersToken()
    {
        var (loop, stream, peer) = CallerPolledStream();
        using var _ = loop;
        using var cts = new CancellationTokenSource();
        var read = stream.ReadAsync(new byte[16], cts.Token).AsTask();
        Assert.False(read.IsCompleted);

        cts.Cancel();
        var ex = await Record.ExceptionAsync(() => read.WaitAsync(Bound));

        Assert.True(read.IsCanceled, $"status {read.Status}");
        Assert.Equal(cts.Token, Assert.IsAssignableFrom<OperationCanceledException>(ex).CancellationToken);
        Deliver(loop, peer, [3]); // the stream reads on after a cancelled read
        var buffer = new byte[16];
        Assert.Equal(1, await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound));
    }

    private sealed class CountingStream(Action<int> onWrite) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => onWrite(count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) { onWrite(buffer.Length); return ValueTask.CompletedTask; }
    }
}
