using Microsoft.Extensions.Logging;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review (pipes3): a channel the peer withdrew keeps its unread messages for its reader until the device's queue
/// budget takes them back for a live endpoint (RpmsgEndpointQueue.Retained). Its reader must then learn that
/// messages were dropped, with how many; it saw a clean end (Input completed, a stream read returned 0, a receive
/// threw the same ObjectDisposedException as after reading everything), so the loss went unnoticed.
/// </summary>
public sealed class RpmsgReclaimedChannelReadTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const long Budget = ushort.MaxValue + 64L; // the smallest allowed: one largest message
    private const int Payload = 400;
    private static readonly long Cost = Payload + RpmsgQueueBudget.PerMessageOverhead;
    private static readonly int Fits = (int)(Budget / Cost);

    // Two withdrawn channels holding `Fits / 2` unread messages each, then a live endpoint that needs the room: the
    // oldest channel's messages (all but `readFirst`, read before) are taken back.
    private static (RpmsgLoopback Loop, RpmsgChannel Reclaimed, RpmsgChannel Kept) WithdrawnThenReclaimed(int readFirst, Action<RpmsgChannel>? beforeReclaim = null)
    {
        var probed = new List<RpmsgChannel>();
        var loop = RpmsgLoopback.Create(
            host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; o.MaxQueuedBytes = Budget; },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc-reclaim") { Probe = ch => { lock (probed) probed.Add(ch); } });
        var oldest = Withdrawn(loop, probed, Fits / 2);
        var newest = Withdrawn(loop, probed, Fits / 2);
        var buffer = new byte[Payload];
        for (int i = 0; i < readFirst; i++)
            Assert.True(oldest.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _), $"set-up: message {i} is read before the reclaim");
        beforeReclaim?.Invoke(oldest);
        loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x600);
        long rx = loop.Host.Counters.RxMessages;
        int count = (int)((Budget - loop.Host.QueueBudget.Used) / Cost) + 1; // one more than the budget has left
        for (int i = 0; i < count; i++)
            sender.SendTo(0x500, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= rx + count, "the live endpoint's messages are dispatched");
        Assert.True(oldest.Endpoint.QueueDrops > 0, "set-up: the oldest channel's rest was taken back");
        Assert.Equal(0, newest.Endpoint.QueueDrops);
        return (loop, oldest, newest);
    }

    private static RpmsgChannel Withdrawn(RpmsgLoopback loop, List<RpmsgChannel> probed, int messages)
    {
        int before;
        lock (probed)
            before = probed.Count;
        var service = loop.Remote.CreateNamedEndpoint("svc-reclaim", RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => { lock (probed) return probed.Count > before; }, "the channel is probed");
        RpmsgChannel channel;
        lock (probed)
            channel = probed[^1];
        long rx = loop.Host.Counters.RxMessages;
        for (int i = 0; i < messages; i++)
            service.SendTo(channel.LocalAddress, new byte[Payload]);
        loop.WaitUntil(() => loop.Host.Counters.RxMessages >= rx + messages, "the messages are dispatched");
        service.Dispose();
        loop.WaitUntil(() => channel.Endpoint.IsDestroyed, "the peer's DESTROY destroyed the channel's endpoint");
        return channel;
    }

    [Fact]
    public void Receive_OnAReclaimedChannel_ThrowsMessagesDropped_NamingHowMany_NotTheCleanEnd()
    {
        var (loop, reclaimed, kept) = WithdrawnThenReclaimed(readFirst: 2);
        using var owned = loop;
        var buffer = new byte[Payload];

        var e = Record.Exception(() => reclaimed.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));

        var dropped = Assert.IsType<RpmsgMessagesDroppedException>(e);
        Assert.Equal(Fits / 2 - 2, dropped.Dropped);
        Assert.Equal(reclaimed.Endpoint.Address, dropped.Endpoint);
        Assert.Contains($"{Fits / 2 - 2} unread messages", dropped.Message, StringComparison.Ordinal);
        // Every later receive says it again (a reader never mistakes it for the end later), async too.
        Assert.IsType<RpmsgMessagesDroppedException>(Record.Exception(() => reclaimed.Endpoint.Receive(buffer, TimeSpan.FromSeconds(1))));
        Assert.IsType<RpmsgMessagesDroppedException>(Record.Exception(() => reclaimed.Endpoint.ReceiveAsync(buffer).AsTask().GetAwaiter().GetResult()));
        // The channel kept, read to its end, ends cleanly as before.
        for (int i = 0; i < Fits / 2; i++)
            Assert.True(kept.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _));
        Assert.IsType<ObjectDisposedException>(Record.Exception(() => kept.Endpoint.TryReceive(buffer, TimeSpan.Zero, out _)));
    }

    [Fact]
    public async Task PipeInput_OnAReclaimedChannel_FaultsWithMessagesDropped_NotCompleted()
    {
        var (loop, reclaimed, _) = WithdrawnThenReclaimed(readFirst: 0);
        using var __ = loop;
        await using var pipe = new RpmsgDuplexPipe(reclaimed.Endpoint);

        var e = await Record.ExceptionAsync(async () =>
        {
            var read = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
            Assert.Fail($"Input returned {read.Buffer.Length} bytes, completed: {read.IsCompleted}");
        });

        var dropped = Assert.IsType<RpmsgMessagesDroppedException>(e);
        Assert.Equal(Fits / 2, dropped.Dropped);
        Assert.IsType<RpmsgMessagesDroppedException>(Record.Exception(() => pipe.Input.TryRead(out _)));
    }

    [Fact]
    public async Task PipeInput_ReadingWhenTheRestIsReclaimed_GetsWhatItReadThenMessagesDropped()
    {
        RpmsgDuplexPipe? pipe = null;
        var (loop, reclaimed, _) = WithdrawnThenReclaimed(readFirst: 0, beforeReclaim: ch =>
        {
            pipe = new RpmsgDuplexPipe(ch.Endpoint);
            Assert.True(pipe.Input.TryRead(out var first), "set-up: the read takes what is queued");
            pipe.Input.AdvanceTo(first.Buffer.Start); // nothing consumed or examined: the reader holds it
        });
        using var __ = loop;
        await using var ___ = pipe!;

        var held = await pipe!.Input.ReadAsync().AsTask().WaitAsync(Bound); // what the reader took before: still its
        Assert.False(held.IsCompleted, "the end of input was reported without the drop");
        pipe.Input.AdvanceTo(held.Buffer.End);
        var e = await Record.ExceptionAsync(() => pipe.Input.ReadAsync().AsTask().WaitAsync(Bound));

        Assert.IsType<RpmsgMessagesDroppedException>(e);
        Assert.Equal(reclaimed.Endpoint.QueueDrops, ((RpmsgMessagesDroppedException)e!).Dropped);
    }

    [Fact]
    public async Task StreamRead_OnAReclaimedChannel_ThrowsMessagesDropped_NotZero()
    {
        var (loop, reclaimed, _) = WithdrawnThenReclaimed(readFirst: 1);
        using var __ = loop;
        using var stream = new RpmsgStream(reclaimed.Endpoint);
        var buffer = new byte[Payload];

        var sync = Record.Exception(() => stream.Read(buffer));
        var async = await Record.ExceptionAsync(() => stream.ReadAsync(buffer).AsTask().WaitAsync(Bound));
        using var copy = new MemoryStream();
        var copied = await Record.ExceptionAsync(() => stream.CopyToAsync(copy).WaitAsync(Bound));

        Assert.True(sync is RpmsgMessagesDroppedException, $"Read: {sync?.GetType().Name ?? "returned"}");
        Assert.IsType<RpmsgMessagesDroppedException>(async);
        Assert.IsType<RpmsgMessagesDroppedException>(copied); // CopyToAsync no longer ends "successfully" short of data
        Assert.Equal(Fits / 2 - 1, ((RpmsgMessagesDroppedException)sync!).Dropped);
    }
}

/// <summary>
/// Review (pipes3): counting a drop built its log text (a string of channel name, addresses and the budget) even with
/// logging off, or past the rate limit: an allocation on the dispatcher per message a full queue refused, and per
/// withdrawn channel reclaimed. Nothing is built unless the logger takes that warning.
/// </summary>
public sealed class RpmsgDropLoggingAllocationTests
{
    private static RpmsgEndpoint Endpoint(RpmsgLoopback loop) => loop.Host.CreateEndpoint(0x500);

    private static RpmsgLoopback Loop(ILogger? log = null) => RpmsgLoopback.Create(
        host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; if (log is not null) o.Logger = log; },
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    private static long Allocated(Action action, int times)
    {
        action(); // compiled, and whatever is made once made
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < times; i++)
            action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    public static TheoryData<string> Logs => new() { "none", "errors only" };

    [Theory]
    [MemberData(nameof(Logs))]
    public void CountReclaimed_LoggerNotEnabledForWarnings_AllocatesNothing(string log)
    {
        using var loop = Loop(log == "none" ? null : new CountingLog(LogLevel.Error));
        var endpoint = Endpoint(loop);

        long allocated = Allocated(() => endpoint.CountReclaimed(3), 50);

        Assert.Equal(0, allocated);
        Assert.Equal(3 * 51, endpoint.QueueDrops);
        Assert.Equal(3 * 51, loop.Host.Counters.Dropped);
    }

    [Theory]
    [MemberData(nameof(Logs))]
    public void QueueFullDrop_LoggerNotEnabledForWarnings_AllocatesNothing(string log)
    {
        using var loop = Loop(log == "none" ? null : new CountingLog(LogLevel.Error));
        var endpoint = Endpoint(loop);
        var queue = endpoint.ReceiveQueue!;
        var payload = new byte[8];
        while (queue.TryEnqueue(0x400, payload))
        {
        }

        long allocated = Allocated(() => Assert.True(endpoint.Deliver(0x400, payload)), 50);

        Assert.Equal(0, allocated);
        Assert.Equal(51, endpoint.QueueDrops);
    }

    // Enabled: still logged (the first ten, then every thousandth), with the wording it had.
    [Fact]
    public void CountReclaimed_LoggerEnabled_StillLogsWhy()
    {
        var log = new CountingLog(LogLevel.Warning);
        using var loop = Loop(log);
        var endpoint = Endpoint(loop);

        for (int i = 0; i < 12; i++)
            endpoint.CountReclaimed(1);

        Assert.Equal(10, log.Messages.Count);
        Assert.Contains("unread messages of channel", log.Messages[0], StringComparison.Ordinal);
        Assert.Contains("withdrawn by the peer's DESTROY", log.Messages[0], StringComparison.Ordinal);
    }

    private sealed class CountingLog(LogLevel least) : ILogger
    {
        public readonly List<string> Messages = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= least;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                lock (Messages)
                    Messages.Add(formatter(state, exception));
        }
    }
}
