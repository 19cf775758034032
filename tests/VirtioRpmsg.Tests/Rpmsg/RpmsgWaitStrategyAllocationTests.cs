using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Every path applications use allocates nothing per message under every wait strategy with a dispatcher thread
/// (the caller-poll cases are <see cref="RpmsgQueuePathAllocationTests"/>): echo round trips through Receive,
/// ReceiveAsync, RpmsgStream (blocking and async), RpmsgDuplexPipe and the receive callback, pipelined echo and
/// one-way streaming, against a remote that echoes on its own (interrupt) dispatcher. The work crosses threads,
/// so the whole process's bytes are counted: alone (after the parallel tests), after a warm-up, the best of three
/// rounds under <see cref="BytesPerMessageBound"/> per message plus the host's background work for the round's duration
/// (<see cref="ProcessAllocation"/>): on an idle machine, where a round takes a fraction of a second, an object (24 bytes
/// at least) every 20 messages fails.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class RpmsgWaitStrategyAllocationTests
{
    private const int Warmup = 2_000;
    private const int Measured = 5_000;
    private const double BytesPerMessageBound = 1;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    public static TheoryData<RpmsgWaitStrategy> Strategies => new()
    {
        RpmsgWaitStrategy.Interrupt,
        RpmsgWaitStrategy.Hybrid,
        RpmsgWaitStrategy.BusyPoll,
    };

    private static (RpmsgLoopback Loop, RpmsgEndpoint Endpoint) EchoPair(RpmsgWaitStrategy host)
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = host,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        return (loop, loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
    }

    /// <summary>Runs the warm-up, then three measured rounds of <paramref name="messages"/>; asserts the best round (<see cref="ProcessAllocation"/>).</summary>
    internal static async Task AssertNothingPerMessageAsync(Func<int, Task> run, string what, int messages = Measured)
    {
        var allocation = await ProcessAllocation.MeasureAsync(run, Warmup, messages);
        Assert.True(allocation.AnyRoundWithin(BytesPerMessageBound), $"{what}: no round under {BytesPerMessageBound} B/msg plus {ProcessAllocation.NoiseBytesPerSecond} B/s; {allocation}");
    }

    private static void Check(int length, int expected, int i)
    {
        if (length != expected)
            throw new InvalidDataException($"round trip {i}: {length} bytes back for {expected}");
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Receive_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                endpoint.Send(payload);
                Check(endpoint.Receive(reply, Bound).Length, payload.Length, i);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerMessageAsync(Run, $"Receive, {strategy}");
    }

    [Fact]
    public async Task Receive_WithACancellationToken_OnTheDoorbell_AllocatesNothingPerMessage()
    {
        // Under interrupt the reader waits on the doorbell (RpmsgDoorbellHandOver): its token's link with the
        // hand-over's interrupt is kept between waits.
        var (loop, endpoint) = EchoPair(RpmsgWaitStrategy.Interrupt);
        using var _ = loop;
        using var cts = new CancellationTokenSource();
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        int takes = loop.Host.Rx.HandOver.Takes;

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                endpoint.Send(payload);
                Check(endpoint.Receive(reply, Bound, cts.Token).Length, payload.Length, i);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerMessageAsync(Run, "Receive with a token, reader on the doorbell");
        Assert.True(loop.Host.Rx.HandOver.Takes > takes, "the reader never waited on the doorbell");
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task ReceiveAsync_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        using var cancel = new CancellationTokenSource();

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                await endpoint.SendAsync(payload, cancel.Token).ConfigureAwait(false);
                Check((await endpoint.ReceiveAsync(reply, cancel.Token).ConfigureAwait(false)).Length, payload.Length, i);
            }
        }

        await AssertNothingPerMessageAsync(Run, $"ReceiveAsync, {strategy}");
    }

    /// <summary>The receive is parked before its message is even sent, so every one waits (and is woken by the dispatcher).</summary>
    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt)]
    [InlineData(RpmsgWaitStrategy.Hybrid)] // its reader spins HybridSpin (50 us) per receive before parking
    public async Task ReceiveAsync_ParkedBeforeTheSend_AllocatesNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        using var cancel = new CancellationTokenSource();
        int completedEarly = 0;

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                var pending = endpoint.ReceiveAsync(reply, cancel.Token);
                if (pending.IsCompleted)
                    completedEarly++;
                await endpoint.SendAsync(payload, cancel.Token).ConfigureAwait(false);
                Check((await pending.ConfigureAwait(false)).Length, payload.Length, i);
            }
        }

        await AssertNothingPerMessageAsync(Run, $"parked ReceiveAsync, {strategy}");
        Assert.Equal(0, completedEarly); // nothing was sent yet: every receive parked
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Stream_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        using var stream = new RpmsgStream(endpoint);
        var payload = new byte[64];
        var reply = new byte[64];

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                stream.Write(payload);
                stream.ReadExactly(reply);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerMessageAsync(Run, $"RpmsgStream Write/Read, {strategy}");
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task StreamAsync_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        using var stream = new RpmsgStream(endpoint);
        var payload = new byte[64];
        var reply = new byte[64];
        using var cancel = new CancellationTokenSource();

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                await stream.WriteAsync(payload, cancel.Token).ConfigureAwait(false);
                for (int got = 0; got < reply.Length;)
                    got += await stream.ReadAsync(reply.AsMemory(got), cancel.Token).ConfigureAwait(false);
            }
        }

        await AssertNothingPerMessageAsync(Run, $"RpmsgStream WriteAsync/ReadAsync, {strategy}");
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task DuplexPipe_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        var (loop, endpoint) = EchoPair(strategy);
        using var _ = loop;
        await using var pipe = new RpmsgDuplexPipe(endpoint);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource();

        async Task Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                await pipe.Output.WriteAsync(payload, cancel.Token).ConfigureAwait(false);
                while (true)
                {
                    var read = await pipe.Input.ReadAsync(cancel.Token).ConfigureAwait(false);
                    if (read.Buffer.Length >= payload.Length)
                    {
                        pipe.Input.AdvanceTo(read.Buffer.GetPosition(payload.Length));
                        break;
                    }
                    if (read.IsCompleted)
                        throw new EndOfStreamException($"round trip {i}: the pipe's input ended");
                    pipe.Input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                }
            }
        }

        await AssertNothingPerMessageAsync(Run, $"RpmsgDuplexPipe, {strategy}");
    }

    /// <summary>
    /// The callback path, one round trip at a time (the reply counted by the callback, the test thread spinning
    /// for it), and pipelined: 16 requests in flight, each reply's callback sending the next request.
    /// </summary>
    [Theory]
    [InlineData(RpmsgWaitStrategy.Interrupt, 1)]
    [InlineData(RpmsgWaitStrategy.Hybrid, 1)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, 1)]
    [InlineData(RpmsgWaitStrategy.Interrupt, 16)]
    [InlineData(RpmsgWaitStrategy.BusyPoll, 16)]
    public async Task Callback_EchoRoundTrips_AllocateNothingPerMessage(RpmsgWaitStrategy strategy, int inFlight)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = strategy,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.SendTo(src, payload));
        var payload = new byte[64];
        long replies = 0, sent = 0, target = 0;
        loop.Host.CreateEndpoint(0x500, (ept, _, reply) =>
        {
            if (reply.Length != payload.Length)
                throw new InvalidDataException($"{reply.Length} bytes back for {payload.Length}");
            Interlocked.Increment(ref replies);
            if (inFlight > 1 && Interlocked.Increment(ref sent) <= Volatile.Read(ref target))
                ept.SendTo(0x400, payload);
        });
        var sender = loop.Host.CreateEndpoint(0x501);

        Task Run(int n)
        {
            var deadline = DateTime.UtcNow + Bound;
            long start = Volatile.Read(ref replies);
            if (inFlight > 1)
            {
                // The callback sends request k+16 when reply k arrives; this thread sends the first 16.
                Volatile.Write(ref sent, start + inFlight);
                Volatile.Write(ref target, start + n);
                for (int i = 0; i < Math.Min(inFlight, n); i++)
                    sender.SendOffChannel(0x500, 0x400, payload);
                WaitForReplies(start + n);
                return Task.CompletedTask;
            }
            for (int i = 0; i < n; i++)
            {
                sender.SendOffChannel(0x500, 0x400, payload);
                WaitForReplies(start + i + 1);
            }
            return Task.CompletedTask;

            void WaitForReplies(long count)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref replies) < count)
                {
                    if (DateTime.UtcNow > deadline)
                        throw new TimeoutException($"{Volatile.Read(ref replies) - start} of {count - start} replies\nhost: {loop.Host.Dump()}");
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
        }

        await AssertNothingPerMessageAsync(Run, $"callback echo, {strategy}, {inFlight} in flight");
    }

    /// <summary>One-way streaming: blocking sends as fast as the ring allows (they wait whenever it is full) to a remote that only counts.</summary>
    [Theory]
    [MemberData(nameof(Strategies))]
    public async Task Streaming_OneWaySends_AllocateNothingPerMessage(RpmsgWaitStrategy strategy)
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = strategy,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt);
        long received = 0;
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => Interlocked.Increment(ref received));
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        var payload = new byte[64];

        Task Run(int n)
        {
            long until = Volatile.Read(ref received) + n;
            for (int i = 0; i < n; i++)
                endpoint.Send(payload);
            var deadline = DateTime.UtcNow + Bound;
            var spin = new SpinWait();
            while (Volatile.Read(ref received) < until)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"the remote received {until - Volatile.Read(ref received)} messages too few");
                spin.SpinOnce(sleep1Threshold: -1);
            }
            return Task.CompletedTask;
        }

        await AssertNothingPerMessageAsync(Run, $"one-way streaming, {strategy}", messages: 20_000);
    }
}
