using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Senders that must wait for a tx buffer allocate nothing per wait, in every wait strategy, blocking and async:
/// a tiny ring (a few tx buffers) and a caller-polled remote that a <see cref="LateReturner"/> polls only once a
/// sender has begun to wait, so at least one send in every few waits. The wake-up crosses threads (the host's
/// dispatcher, or the returner polling a caller-polled host), so the whole process's bytes are counted: these
/// tests run alone (after the parallel ones), a warm-up first, and some round must stay under
/// <see cref="BytesPerWaitBound"/> per wait plus the process's background work for its duration
/// (<see cref="ProcessAllocation"/>): one object per wait (24 bytes at least) fails, background noise not.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class RpmsgTxWaitAllocationTests
{
    private const int Warmup = 2_000;
    private const int Measured = 5_000;
    // Under the smallest object (24 bytes). The process's background work is allowed for by each round's duration
    // (ProcessAllocation): a count of bytes alone failed under load, at 17.9 B/wait in the best of five rounds of about
    // 20 s each (the test host allocates about 1.6 KB/s with no device at all).
    private const double BytesPerWaitBound = 16;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static RpmsgLoopback TinyRing(RpmsgWaitStrategy host)
    {
        // vringNum 4: a handful of tx buffers, so the sender runs out after a few sends.
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = host,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 4);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        return loop;
    }

    /// <summary>
    /// Runs the warm-up, then measured rounds (<see cref="ProcessAllocation"/>, counted per wait); asserts some round
    /// stayed under <see cref="BytesPerWaitBound"/> per wait plus the host's background work for its duration.
    /// </summary>
    private static async Task AssertNothingPerWaitAsync(RpmsgDevice host, Func<int, Task> run, string what)
    {
        var allocation = await ProcessAllocation.MeasureAsync(run, Warmup, Measured, () => host.Counters.TxBufferWaits, "wait");
        // The returner polls the remote only after a new wait, but a Poll that overlaps the sender's next sends takes
        // those too (it runs until the ring is empty): alone on this machine, 224-305 of 5,000 sends waited in about
        // half the rounds (a wait per 4 sends otherwise). The per-wait bound holds either way; this only makes sure
        // there are enough waits that one object per wait (24 bytes and up) could not hide in it.
        Assert.True(allocation.FewestUnits >= Measured / 50, $"{what}: a round in which too few of {Measured} sends waited for a tx buffer; {allocation}");
        Assert.True(allocation.AnyRoundWithin(BytesPerWaitBound), $"{what}: no round under {BytesPerWaitBound} B/wait plus {ProcessAllocation.NoiseBytesPerSecond} B/s; {allocation}");
    }

    public static TheoryData<RpmsgWaitStrategy> Strategies => new()
    {
        RpmsgWaitStrategy.Interrupt,
        RpmsgWaitStrategy.Hybrid,
        RpmsgWaitStrategy.BusyPoll,
        RpmsgWaitStrategy.CallerPoll,
    };

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Send_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy)
    {
        using var loop = TinyRing(strategy);
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var returner = new LateReturner(loop);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource();

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
                endpoint.Send(payload, Bound, cancel.Token);
            return Task.CompletedTask;
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"Send, {strategy}");
        returner.ThrowIfFailed();
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task SendAsync_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy)
    {
        using var loop = TinyRing(strategy);
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var returner = new LateReturner(loop);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource();

        // One async method per round: its own state machine is allocated once a round, not per send.
        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
                await endpoint.SendAsync(payload, cancel.Token).ConfigureAwait(false);
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"SendAsync, {strategy}");
        returner.ThrowIfFailed();
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task GetTxBuffer_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy)
    {
        using var loop = TinyRing(strategy);
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var returner = new LateReturner(loop);
        using var cancel = new CancellationTokenSource();

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                var buffer = endpoint.GetTxBuffer(Bound, cancel.Token);
                buffer.Span[..64].Fill((byte)i);
                buffer.Send(64);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"GetTxBuffer, {strategy}");
        returner.ThrowIfFailed();
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task StreamWriteAsync_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy)
    {
        using var loop = TinyRing(strategy);
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var returner = new LateReturner(loop);
        using var stream = new RpmsgStream(endpoint);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource();

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
                await stream.WriteAsync(payload, cancel.Token).ConfigureAwait(false);
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"RpmsgStream.WriteAsync, {strategy}");
        returner.ThrowIfFailed();
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task PipeFlush_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy)
    {
        using var loop = TinyRing(strategy);
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        using var returner = new LateReturner(loop);
        await using var pipe = new RpmsgDuplexPipe(endpoint);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource();

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                var flush = await pipe.Output.WriteAsync(payload, cancel.Token).ConfigureAwait(false);
                if (flush.IsCanceled || flush.IsCompleted)
                    throw new InvalidOperationException($"flush {i} ended {(flush.IsCanceled ? "cancelled" : "completed")}");
            }
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"RpmsgDuplexPipe.Output, {strategy}");
        returner.ThrowIfFailed();
    }

    /// <summary>
    /// A receive callback that sends and finds the ring full waits on the doorbell itself (interrupt and hybrid: it
    /// is the dispatcher): nothing allocated per wait either, with or without a cancellable token.
    /// </summary>
    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, false)]
    [InlineData(RpmsgWaitStrategy.Interrupt, true)]
    [InlineData(RpmsgWaitStrategy.Hybrid, true)]
    public async Task SendFromCallback_WaitingForTxBuffers_AllocatesNothingPerWait(RpmsgWaitStrategy strategy, bool cancellable)
    {
        using var loop = TinyRing(strategy);
        using var cancel = new CancellationTokenSource();
        var token = cancellable ? cancel.Token : CancellationToken.None;
        var payload = new byte[64];
        long sent = 0;
        loop.Host.CreateEndpoint(0x500, (ept, _, _) =>
        {
            ept.SendTo(0x400, payload, Bound, token);
            Interlocked.Increment(ref sent);
        });
        var trigger = loop.Remote.CreateEndpoint(0x401);
        using var returner = new LateReturner(loop);
        var one = new byte[1];

        // Each trigger (sent from this thread through the remote, whose send reclaims the buffers the host's
        // dispatcher returned) makes the host's callback send one message.
        Task Run(int n)
        {
            long target = Volatile.Read(ref sent) + n;
            var deadline = DateTime.UtcNow + Bound;
            for (int i = 0; i < n; i++)
            {
                var spin = new SpinWait();
                while (!trigger.TrySendTo(0x500, one))
                {
                    if (DateTime.UtcNow > deadline)
                        throw new TimeoutException($"no remote tx buffer for trigger {i}\nhost: {loop.Host.Dump()}");
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
            var wait = new SpinWait();
            while (Volatile.Read(ref sent) < target)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"the callback sent {Volatile.Read(ref sent)} of {target}\nhost: {loop.Host.Dump()}");
                wait.SpinOnce(sleep1Threshold: -1);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerWaitAsync(loop.Host, Run, $"Send from a callback, {strategy}, {(cancellable ? "cancellable" : "no")} token");
        returner.ThrowIfFailed();
    }
}
