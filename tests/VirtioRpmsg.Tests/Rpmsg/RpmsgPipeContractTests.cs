using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes2): <see cref="RpmsgDuplexPipe"/> against the PipeReader/PipeWriter contract, with the SAME assertions
/// run against System.IO.Pipelines' own <see cref="Pipe"/> ("pipe") and against ours ("rpmsg"), so that every
/// assertion is known to be what a real Pipe does.
/// </summary>
public class RpmsgPipeContractTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Kinds => new() { "pipe", "rpmsg" };

    /// <summary>A reader fed by <see cref="Feed"/> and a writer whose flushed bytes <see cref="Sent"/> returns.</summary>
    private interface IUnderTest : IAsyncDisposable
    {
        PipeReader Reader { get; }
        PipeWriter Writer { get; }
        void Feed(params byte[][] messages);
        byte[] Sent();
    }

    private sealed class RealPipe : IUnderTest
    {
        private readonly Pipe _in = new(new PipeOptions(useSynchronizationContext: false, pauseWriterThreshold: 0));
        private readonly Pipe _out = new(new PipeOptions(useSynchronizationContext: false, pauseWriterThreshold: 0));

        public PipeReader Reader => _in.Reader;
        public PipeWriter Writer => _out.Writer;

        public void Feed(params byte[][] messages)
        {
            foreach (var m in messages)
            {
                _in.Writer.Write(m);
                Assert.True(_in.Writer.FlushAsync().IsCompleted);
            }
        }

        public byte[] Sent()
        {
            if (!_out.Reader.TryRead(out var r))
                return [];
            var bytes = r.Buffer.ToArray();
            _out.Reader.AdvanceTo(r.Buffer.End);
            return bytes;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Ours : IUnderTest
    {
        private readonly RpmsgLoopback _loop;
        private readonly RpmsgEndpoint _peer;
        private readonly RpmsgDuplexPipe _pipe;
        private readonly ConcurrentQueue<byte[]> _received = new();

        public Ours()
        {
            _loop = RpmsgLoopback.Create(
                host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
                remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
            _peer = _loop.Remote.CreateEndpoint(0x400, (_, _, payload) => _received.Enqueue(payload.ToArray()));
            _pipe = new RpmsgDuplexPipe(_loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
        }

        public PipeReader Reader => _pipe.Input;
        public PipeWriter Writer => _pipe.Output;

        public void Feed(params byte[][] messages)
        {
            foreach (var m in messages)
                Assert.True(_peer.TrySendTo(0x500, m));
            Assert.Equal(messages.Length, _loop.Host.Poll());
        }

        public byte[] Sent()
        {
            _loop.Remote.Poll();
            var all = new List<byte>();
            while (_received.TryDequeue(out var m))
                all.AddRange(m);
            return [.. all];
        }

        public async ValueTask DisposeAsync()
        {
            await _pipe.DisposeAsync();
            _loop.Dispose();
        }
    }

    private static IUnderTest Make(string kind) => kind == "pipe" ? new RealPipe() : new Ours();

    // A PipeReader may throw from the call itself or fault the task it returns: either is "the read fails".
    private static async Task<Exception?> ReadFails(Func<ValueTask<ReadResult>> read)
    {
        try
        {
            await read().AsTask().WaitAsync(Bound);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReadAsync_AgainWithoutAdvanceTo_Throws(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2, 3]);
        var first = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(3, first.Buffer.Length);

        var e = await ReadFails(() => t.Reader.ReadAsync());

        Assert.IsType<InvalidOperationException>(e);
        t.Reader.AdvanceTo(first.Buffer.End); // the reader is still usable
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task TryRead_AfterReadAsyncWithoutAdvanceTo_Throws(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2, 3]);
        var first = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);

        Assert.Throws<InvalidOperationException>(() => t.Reader.TryRead(out _));
        t.Reader.AdvanceTo(first.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task TryRead_TwiceWithoutAdvanceTo_Throws(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2, 3]);
        Assert.True(t.Reader.TryRead(out var first));

        Assert.Throws<InvalidOperationException>(() => t.Reader.TryRead(out _));
        t.Reader.AdvanceTo(first.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReadAsync_AfterAdvanceTo_ReadsOn(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2, 3]);
        var first = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);
        t.Reader.AdvanceTo(first.Buffer.GetPosition(1), first.Buffer.End);
        var waiting = t.Reader.ReadAsync().AsTask();
        t.Feed([4]);

        var next = await waiting.WaitAsync(Bound);

        Assert.Equal(new byte[] { 2, 3, 4 }, next.Buffer.ToArray());
        t.Reader.AdvanceTo(next.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AdvanceTo_WithoutARead_Throws(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2, 3]);
        var first = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);
        t.Reader.AdvanceTo(first.Buffer.Start);

        Assert.Throws<InvalidOperationException>(() => t.Reader.AdvanceTo(first.Buffer.End));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CancelPendingRead_BeforeARead_NextReadIsCanceled_TheOneAfterIsNormal(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2]);
        t.Reader.CancelPendingRead();

        var canceled = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.True(canceled.IsCanceled);
        Assert.False(canceled.IsCompleted);
        t.Reader.AdvanceTo(canceled.Buffer.Start);
        var normal = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);

        Assert.False(normal.IsCanceled);
        Assert.Equal(new byte[] { 1, 2 }, normal.Buffer.ToArray());
        t.Reader.AdvanceTo(normal.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CancelPendingRead_DuringAWaitingRead_EndsItCanceled_TheNextReadGetsData(string kind)
    {
        await using var t = Make(kind);
        var waiting = t.Reader.ReadAsync().AsTask();
        Assert.False(waiting.IsCompleted);

        t.Reader.CancelPendingRead();
        var canceled = await waiting.WaitAsync(Bound);
        Assert.True(canceled.IsCanceled);
        t.Reader.AdvanceTo(canceled.Buffer.End);
        t.Feed([7]);
        var normal = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);

        Assert.False(normal.IsCanceled);
        Assert.Equal(new byte[] { 7 }, normal.Buffer.ToArray());
        t.Reader.AdvanceTo(normal.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReadAsync_CanceledToken_IsCanceled_ThenReadsNormally(string kind)
    {
        await using var t = Make(kind);
        t.Feed([5]);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        var e = await ReadFails(() => t.Reader.ReadAsync(cts.Token));
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        var normal = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);

        Assert.Equal(new byte[] { 5 }, normal.Buffer.ToArray());
        t.Reader.AdvanceTo(normal.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Reader_AfterComplete_ReadTryReadAndAdvanceToThrow_CompleteAgainDoesNot(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1]);
        var read = await t.Reader.ReadAsync().AsTask().WaitAsync(Bound);
        t.Reader.AdvanceTo(read.Buffer.End);

        t.Reader.Complete();

        Assert.IsType<InvalidOperationException>(await ReadFails(() => t.Reader.ReadAsync()));
        Assert.Throws<InvalidOperationException>(() => t.Reader.TryRead(out _));
        Assert.Throws<InvalidOperationException>(() => t.Reader.AdvanceTo(read.Buffer.End));
        t.Reader.Complete();
        t.Reader.CancelPendingRead();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task TryRead_NothingThere_False(string kind)
    {
        await using var t = Make(kind);

        Assert.False(t.Reader.TryRead(out _));
        t.Feed([9]);
        Assert.True(t.Reader.TryRead(out var got));
        Assert.Equal(new byte[] { 9 }, got.Buffer.ToArray());
        t.Reader.AdvanceTo(got.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReadAtLeastAsync_AcrossMessages_ReturnsEnough(string kind)
    {
        await using var t = Make(kind);
        t.Feed([1, 2], [3]);
        var reading = t.Reader.ReadAtLeastAsync(5).AsTask();
        t.Feed([4, 5, 6]);

        var got = await reading.WaitAsync(Bound);

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, got.Buffer.ToArray());
        t.Reader.AdvanceTo(got.Buffer.End);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Writer_SizeHintLargerThanOneMessage_GivesThatMuch_AndEveryByteArrives(string kind)
    {
        await using var t = Make(kind);
        var memory = t.Writer.GetMemory(3000);
        Assert.True(memory.Length >= 3000, $"GetMemory(3000) gave {memory.Length} bytes");
        for (int i = 0; i < 3000; i++)
            memory.Span[i] = (byte)(i * 7);
        t.Writer.Advance(3000);
        var span = t.Writer.GetSpan(1);
        span[0] = 0xAB;
        t.Writer.Advance(1);

        var flushed = await t.Writer.FlushAsync().AsTask().WaitAsync(Bound);

        Assert.False(flushed.IsCanceled);
        var sent = t.Sent();
        Assert.Equal(3001, sent.Length);
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).Append((byte)0xAB), sent);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Writer_AdvancePastTheMemoryGiven_Throws(string kind)
    {
        await using var t = Make(kind);
        var memory = t.Writer.GetMemory(10);

        Assert.Throws<ArgumentOutOfRangeException>(() => t.Writer.Advance(memory.Length + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Writer.Advance(-1));
    }

    // Advance commits bytes of the memory GetMemory/GetSpan gave; without it, there is nothing to commit (ours would send
    // whatever a pooled array held before: another user's bytes, to the remote).
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Writer_AdvanceWithoutGetMemory_Throws(string kind)
    {
        await using var t = Make(kind);

        Assert.Throws<ArgumentOutOfRangeException>(() => t.Writer.Advance(5));
        await t.Writer.FlushAsync().AsTask().WaitAsync(Bound);
        Assert.Empty(t.Sent());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Writer_AfterComplete_GetMemoryAndGetSpanThrow_CompleteAgainDoesNot(string kind)
    {
        await using var t = Make(kind);
        t.Writer.Complete();

        Assert.Throws<InvalidOperationException>(() => t.Writer.GetMemory());
        Assert.Throws<InvalidOperationException>(() => t.Writer.GetSpan());
        t.Writer.Advance(0); // review (pipes3): after Complete, a Pipe's Advance(0) does nothing and its FlushAsync returns; ours threw
        var flush = t.Writer.FlushAsync();
        Assert.True(flush.IsCompletedSuccessfully && !flush.Result.IsCanceled && !flush.Result.IsCompleted, $"{kind}: the flush after Complete");
        t.Writer.Complete();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Writer_ZeroLengthWriteAndEmptyFlush_SendNothing(string kind)
    {
        await using var t = Make(kind);
        t.Writer.GetSpan();
        t.Writer.Advance(0);
        var flushed = await t.Writer.FlushAsync().AsTask().WaitAsync(Bound);
        await t.Writer.WriteAsync(ReadOnlyMemory<byte>.Empty).AsTask().WaitAsync(Bound);

        Assert.False(flushed.IsCanceled);
        Assert.False(flushed.IsCompleted);
        Assert.Empty(t.Sent());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CancelPendingFlush_BeforeAFlush_NextFlushIsCanceled_NothingIsLostOrDoubled(string kind)
    {
        await using var t = Make(kind);
        t.Writer.Write(new byte[] { 1, 2, 3 });
        t.Writer.CancelPendingFlush();

        var canceled = await t.Writer.FlushAsync().AsTask().WaitAsync(Bound);
        Assert.True(canceled.IsCanceled);
        t.Writer.Write(new byte[] { 4 });
        var normal = await t.Writer.FlushAsync().AsTask().WaitAsync(Bound);

        Assert.False(normal.IsCanceled);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, t.Sent());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AsStream_RoundTrips(string kind)
    {
        await using var t = Make(kind);
        using var input = t.Reader.AsStream(leaveOpen: true);
        using var output = t.Writer.AsStream(leaveOpen: true);
        t.Feed([1, 2, 3], [4, 5]);

        var buffer = new byte[2];
        Assert.Equal(2, await input.ReadAsync(buffer).AsTask().WaitAsync(Bound));
        Assert.Equal(new byte[] { 1, 2 }, buffer);
        var rest = new byte[16];
        int n = await input.ReadAsync(rest).AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 3, 4, 5 }, rest.AsSpan(0, n).ToArray());

        output.Write([10, 11, 12]);
        await output.WriteAsync(new byte[] { 13 }).AsTask().WaitAsync(Bound);
        await output.FlushAsync().WaitAsync(Bound);
        Assert.Equal(new byte[] { 10, 11, 12, 13 }, t.Sent());
    }
}
