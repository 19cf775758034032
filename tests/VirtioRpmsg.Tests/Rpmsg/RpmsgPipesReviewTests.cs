using System.Buffers;
using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes): the byte-stream APIs as a .NET user of Stream and System.IO.Pipelines expects them. What the peer
/// sent before its DESTROY is still read through a pipe or a stream; bad Stream arguments name themselves; a flush
/// cancelled by its token reports that token; AdvanceTo refuses an examined position before the consumed one.
/// </summary>
public class RpmsgPipesReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // A channel (queue endpoint) bound to the remote's service "svc-pipes"; both devices caller-polled.
    internal static (RpmsgLoopback Loop, RpmsgChannel Channel, RpmsgEndpoint Service) Channel()
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        RpmsgChannel? channel = null;
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-pipes") { Probe = ch => Volatile.Write(ref channel, ch) });
        var service = loop.Remote.CreateNamedEndpoint("svc-pipes", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => Volatile.Read(ref channel) is not null, "the channel is probed");
        return (loop, channel!, service);
    }

    // The peer's last messages, then its DESTROY (the service ends), all taken by one poll of the host.
    internal static void LastWordsThenDestroy(RpmsgLoopback loop, RpmsgChannel channel, RpmsgEndpoint service)
    {
        service.SendTo(channel.LocalAddress, [1, 2, 3]);
        service.SendTo(channel.LocalAddress, [4]);
        service.Dispose(); // the name-service DESTROY follows them on the ring
        loop.WaitUntil(() => channel.Endpoint.IsDestroyed, "the peer's DESTROY destroyed the channel's endpoint");
    }

    // The DESTROY dropped the channel endpoint's queue: Input completed quietly with no bytes, the messages were lost.
    [Fact]
    public async Task PeerDestroy_AfterItsLastMessages_InputReadsThem_ThenCompletes()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(channel.Endpoint);

        LastWordsThenDestroy(loop, channel, service);

        var read = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, read.Buffer.ToArray());
        pipe.Input.AdvanceTo(read.Buffer.End);
        var end = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.True(end.IsCompleted, "after the peer's last bytes, Input ends");
        Assert.True(end.Buffer.IsEmpty);
    }

    [Fact]
    public async Task PeerDestroy_AfterItsLastMessages_StreamReadsThem_ThenEnds()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        using var stream = new RpmsgStream(channel.Endpoint);

        LastWordsThenDestroy(loop, channel, service);

        var buffer = new byte[16];
        int n = stream.Read(buffer);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.AsSpan(0, n).ToArray());
        n = await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.Equal(new byte[] { 4 }, buffer.AsSpan(0, n).ToArray());
        // The end of the stream, as a socket's when its peer closes: 0, and 0 again (sync and async).
        Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound));
        Assert.Equal(0, stream.Read(buffer));
        Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound));
        // Writing to a channel the peer removed is still an error, naming why.
        var e = Assert.Throws<ObjectDisposedException>(() => stream.Write(buffer));
        Assert.Contains("the peer's name-service DESTROY", e.Message);
    }

    // What a Stream consumer writes: CopyToAsync ends with everything the peer sent before its DESTROY.
    [Fact]
    public async Task PeerDestroy_StreamCopyToAsync_CompletesWithEverythingThePeerSent()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        using var stream = new RpmsgStream(channel.Endpoint);
        using var copy = new MemoryStream();
        var copying = stream.CopyToAsync(copy);

        LastWordsThenDestroy(loop, channel, service);

        await copying.WaitAsync(Bound);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, copy.ToArray());
    }

    // The application's Dispose still drops what is queued (a destroyed endpoint is read no more), also after the
    // peer's DESTROY kept it for reading.
    [Fact]
    public void PeerDestroy_ThenTheApplicationDisposes_DropsWhatIsLeft()
    {
        var (loop, channel, service) = Channel();
        using var _ = loop;
        LastWordsThenDestroy(loop, channel, service);
        var buffer = new byte[16];
        Assert.True(channel.Endpoint.TryReceive(buffer, TimeSpan.Zero, out var first), "the first message is read");
        Assert.Equal(3, first.Length);

        channel.Endpoint.Dispose();

        Assert.Throws<ObjectDisposedException>(() => channel.Endpoint.TryReceive(buffer, TimeSpan.Zero, out var none));
    }

    [Fact]
    public void Stream_NullEndpoint_ThrowsArgumentNull()
    {
        var e = Record.Exception(() => new RpmsgStream(null!));

        Assert.Equal("endpoint", Assert.IsType<ArgumentNullException>(e).ParamName);
    }

    public static TheoryData<string, string> BadArguments => new()
    {
        { "Read", "buffer" }, { "Read", "offset" }, { "Read", "count" },
        { "Write", "buffer" }, { "Write", "offset" }, { "Write", "count" },
        { "ReadAsync", "buffer" }, { "ReadAsync", "count" },
        { "WriteAsync", "buffer" }, { "WriteAsync", "offset" },
    };

    // Span's own range check named nothing ("Specified argument was out of the range of valid values."), and a null
    // buffer was an ArgumentOutOfRangeException; every Stream (MemoryStream here) names the argument.
    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Stream_BadBufferArguments_NameTheArgument_AsEveryStream(string operation, string argument)
    {
        var (loop, pipe, _) = CallerPolled();
        using var __ = loop;
        using var stream = new RpmsgStream(pipe.Endpoint);
        using var reference = new MemoryStream();
        byte[]? buffer = argument == "buffer" ? null : new byte[4];
        int offset = argument == "offset" ? -1 : 0;
        int count = argument == "count" ? 9 : 1;
        void Call(Stream s)
        {
            switch (operation)
            {
                case "Read": GC.KeepAlive(s.Read(buffer!, offset, count)); break;
                case "Write": s.Write(buffer!, offset, count); break;
                case "ReadAsync": GC.KeepAlive(s.ReadAsync(buffer!, offset, count).GetAwaiter().GetResult()); break;
                default: s.WriteAsync(buffer!, offset, count).GetAwaiter().GetResult(); break;
            }
        }

        var theirs = Assert.IsAssignableFrom<ArgumentException>(Record.Exception(() => Call(reference)));
        var ours = Record.Exception(() => Call(stream));

        Assert.Equal(argument, theirs.ParamName);
        Assert.True(ours is ArgumentException a && a.GetType() == theirs.GetType() && a.ParamName == argument,
            $"{operation} with a bad {argument}: {ours?.GetType().Name} (ParamName '{(ours as ArgumentException)?.ParamName}'): {ours?.Message}");
    }

    // The wait's kept source was the token in the exception: `catch (OperationCanceledException e) when
    // (e.CancellationToken == token)` missed it. The bytes stay buffered for the next flush, as a Pipe's.
    [Fact]
    public async Task Flush_CancelledByItsTokenWhileWaiting_ReportsThatToken_AndKeepsTheBytes()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var received = new List<byte[]>();
        loop.Remote.CreateEndpoint(0x400, (_, _, payload) => received.Add(payload.ToArray()));
        var host = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        await using var pipe = new RpmsgDuplexPipe(host);
        int filler = 0;
        while (host.TrySend([0xEE]))
            filler++;
        using var cts = new CancellationTokenSource();
        var flush = pipe.Output.WriteAsync(new byte[] { 1, 2, 3 }, cts.Token);
        Assert.False(flush.IsCompleted, "no free tx buffer: the flush waits");

        cts.Cancel();

        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flush.AsTask().WaitAsync(Bound));
        Assert.True(e.CancellationToken == cts.Token, "the flush's exception does not carry the caller's token");
        loop.Remote.Poll(); // the remote takes the filler: buffers come back
        await pipe.Output.FlushAsync().AsTask().WaitAsync(Bound);
        loop.Remote.Poll();
        Assert.Equal(filler + 1, received.Count);
        Assert.Equal(new byte[] { 1, 2, 3 }, received[^1]);
    }

    [Fact]
    public async Task AdvanceTo_ExaminedBeforeConsumed_IsRefused_AsAPipeRefusesIt()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3]);
        var read = await pipe.Input.ReadAsync();
        var reference = new Pipe();
        await reference.Writer.WriteAsync(new byte[] { 1, 2, 3 });
        var theirs = await reference.Reader.ReadAsync();

        Assert.Throws<InvalidOperationException>(() => reference.Reader.AdvanceTo(theirs.Buffer.GetPosition(2), theirs.Buffer.GetPosition(1)));
        var e = Record.Exception(() => pipe.Input.AdvanceTo(read.Buffer.GetPosition(2), read.Buffer.GetPosition(1)));

        Assert.True(e is InvalidOperationException, $"examined before consumed: {(e is null ? "accepted" : e.GetType().Name)}");
        Assert.Contains("'examined' is before 'consumed'", e!.Message);
        pipe.Input.AdvanceTo(read.Buffer.GetPosition(2), read.Buffer.End); // the buffer is still the reader's to advance
        Assert.False(pipe.Input.ReadAsync().IsCompleted, "all examined: the next read waits");
        await pipe.DisposeAsync();
    }

    // A host whose tx ring is full (the remote does not poll) and a stream over it: its next send waits for a buffer.
    private static (RpmsgLoopback Loop, RpmsgStream Stream) StreamWithFullTxRing()
    {
        var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.SendTimeout = TimeSpan.FromMinutes(2); },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var host = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        while (host.TrySend([0xEE]))
        {
        }
        return (loop, new RpmsgStream(host));
    }

    // Dispose ended a waiting read, not a waiting write: the write went on waiting for a buffer until the send timeout
    // (for ever with an infinite one), and sent after the dispose if one came back.
    [Fact]
    public async Task Dispose_EndsABlockingWrite_WaitingForATxBuffer_WithObjectDisposed()
    {
        var (loop, stream) = StreamWithFullTxRing();
        using var _ = loop;
        var write = Task.Factory.StartNew(() => stream.Write(new byte[stream.Endpoint.MaxPayload * 2]), TaskCreationOptions.LongRunning);
        Assert.True(SpinWait.SpinUntil(() => write.IsCompleted || loop.Host.Tx.Waiters > 0, Bound), "the write never waited");

        stream.Dispose();
        var e = await Record.ExceptionAsync(() => write.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(e is ObjectDisposedException, $"the write waiting at Dispose: {(e is null ? "returned" : e.GetType().Name)}");
    }

    [Fact]
    public async Task Dispose_EndsAWriteAsync_WaitingForATxBuffer_WithObjectDisposed_AndTheStreamSendsNoMore()
    {
        var (loop, stream) = StreamWithFullTxRing();
        using var _ = loop;
        using var cts = new CancellationTokenSource();
        var single = stream.WriteAsync(new byte[3], cts.Token).AsTask(); // one message: the endpoint's own wait underneath
        Assert.False(single.IsCompleted);

        stream.Dispose();
        var e = await Record.ExceptionAsync(() => single.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(e is ObjectDisposedException, $"the write waiting at Dispose: {(e is null ? "returned" : e.GetType().Name)}");
        Assert.Equal(0, loop.Host.Tx.Waiters);
    }

    // A pipe disposed while its completed Output still waits for tx buffers: Completion said only "The operation was
    // canceled", not that bytes the application wrote were dropped.
    [Fact]
    public async Task Dispose_WithCompletedOutputStillWaitingForTxBuffers_CompletionSaysHowManyBytesWereNotSent()
    {
        var (loop, stream) = StreamWithFullTxRing();
        using var _ = loop;
        var pipe = new RpmsgDuplexPipe(stream.Endpoint);
        pipe.Output.GetSpan(100).Slice(0, 100).Fill(7);
        pipe.Output.Advance(100); // written, not flushed
        pipe.Output.Complete(); // nothing free: it is sent in the background, until the dispose

        await pipe.DisposeAsync();
        var e = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(TimeSpan.FromSeconds(10)));

        var canceled = Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Contains("100 bytes of Output not sent", canceled.Message, StringComparison.Ordinal);
    }
}
