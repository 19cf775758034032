using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;
using VirtioRpmsg.Tests.Memory;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The paths applications receive on (queue endpoint Receive and ReceiveAsync, RpmsgStream, RpmsgDuplexPipe)
/// allocate nothing per message in steady state, async ones included: a warm-up first (JIT, tiering, pools),
/// then measured rounds (<see cref="ThreadAllocation"/>). Both devices are caller-polled, so this thread decides when
/// each message moves.
/// </summary>
public sealed class RpmsgQueuePathAllocationTests
{
    private const int Warmup = 2_000;
    private const int Measured = 10_000;

    private static (RpmsgLoopback Loop, RpmsgEndpoint Endpoint) EchoPair()
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.TrySendTo(src, payload));
        return (loop, loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
    }

    /// <summary>Sends one message to the echo and moves it there and back into the host's queue.</summary>
    private static void EchoIntoQueue(RpmsgLoopback loop, RpmsgEndpoint endpoint, byte[] payload)
    {
        if (!endpoint.TrySend(payload))
            throw new InvalidOperationException("try-send failed in steady state");
        loop.Remote.Poll();
        loop.Host.Poll();
    }

    [Fact]
    public void Receive_QueuedMessage_AllocatesZeroBytesPerMessage()
    {
        var (loop, endpoint) = EchoPair();
        using var _ = loop;
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        using var cancel = new CancellationTokenSource();

        var allocated = ThreadAllocation.Measure(Warmup, Measured, () =>
        {
            EchoIntoQueue(loop, endpoint, payload);
            if (endpoint.Receive(reply, TimeSpan.FromSeconds(30), cancel.Token).Length != payload.Length)
                throw new InvalidDataException("echo length");
        });

        allocated.AssertNone();
    }

    [Fact]
    public void ReceiveAsync_QueuedMessage_CompletesSynchronouslyAndAllocatesZeroBytes()
    {
        var (loop, endpoint) = EchoPair();
        using var _ = loop;
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        using var cancel = new CancellationTokenSource();
        int asynchronous = 0;

        var allocated = ThreadAllocation.Measure(Warmup, Measured, () =>
        {
            EchoIntoQueue(loop, endpoint, payload);
            var pending = endpoint.ReceiveAsync(reply, cancel.Token);
            if (!pending.IsCompleted)
                asynchronous++;
            if (pending.GetAwaiter().GetResult().Length != payload.Length)
                throw new InvalidDataException("echo length");
        });

        Assert.Equal(0, asynchronous);
        allocated.AssertNone();
    }

    [Fact]
    public void Stream_WriteThenRead_AllocatesZeroBytesPerMessage()
    {
        var (loop, endpoint) = EchoPair();
        using var _ = loop;
        using var stream = new RpmsgStream(endpoint);
        var payload = new byte[64];
        var reply = new byte[64];

        var allocated = ThreadAllocation.Measure(Warmup, Measured, () =>
        {
            stream.Write(payload);
            loop.Remote.Poll();
            loop.Host.Poll();
            stream.ReadExactly(reply);
        });

        allocated.AssertNone();
    }
}

/// <summary>
/// The parked async paths: a reader waiting before the message arrives, woken by the writer (counted on this
/// thread, exactly), and the pipe, whose pumps run on thread-pool threads, so it counts the whole process's
/// allocations and runs alone (after the parallel tests), judged as
/// <see cref="RpmsgWaitStrategyAllocationTests.AssertNothingPerMessageAsync"/> judges the dispatcher strategies.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class RpmsgParkedReceiveAllocationTests
{
    private const int Warmup = 2_000;
    private const int Measured = 10_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void ReceiveAsync_ParkedThenWoken_AllocatesNothingPerMessage()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.TrySendTo(src, payload));
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        var payload = new byte[64];
        var reply = new byte[endpoint.MaxPayload];
        using var cancel = new CancellationTokenSource();
        int parked = 0;

        void Iteration()
        {
            var pending = endpoint.ReceiveAsync(reply, cancel.Token); // nothing queued: the reader parks (no spin budget under caller-poll)
            if (!pending.IsCompleted)
                parked++;
            if (!endpoint.TrySend(payload))
                throw new InvalidOperationException("try-send failed in steady state");
            loop.Remote.Poll();
            loop.Host.Poll(); // enqueues and wakes the parked reader; its continuation runs on the thread pool
            var deadline = DateTime.UtcNow + Bound;
            var spin = new SpinWait();
            while (!pending.IsCompleted)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"a parked ReceiveAsync was not woken within {Bound.TotalSeconds} s");
                spin.SpinOnce();
            }
            if (pending.GetAwaiter().GetResult().Length != payload.Length)
                throw new InvalidDataException("echo length");
        }

        // Nobody awaits the parked ValueTask (this thread checks IsCompleted), so its completion runs no
        // continuation: the whole path, park, fill and wake included, runs on this thread and is counted here.
        var allocated = ThreadAllocation.Measure(Warmup, Measured, Iteration, afterWarmup: () => parked = 0);

        Assert.Equal(allocated.Rounds.Length * Measured, parked);
        allocated.AssertNone();
    }

    [Fact]
    public async Task DuplexPipe_EchoRoundTrips_AllocateNothingPerMessage()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.TrySendTo(src, payload));
        var endpoint = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        await using var pipe = new RpmsgDuplexPipe(endpoint);
        var payload = new byte[64];
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        // No async method or capturing lambda of the test's own (either allocates): the pumps run on the thread
        // pool, this thread moves the messages (caller-poll) until each pipe operation completes.
        void Step(DateTime deadline, ref SpinWait spin)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"a pipe operation did not complete within {Bound.TotalSeconds} s\nhost: {loop.Host.Dump()}");
            loop.Remote.Poll();
            loop.Host.Poll();
            spin.SpinOnce();
        }

        void RoundTrip()
        {
            var deadline = DateTime.UtcNow + Bound;
            var spin = new SpinWait();
            var write = pipe.Output.WriteAsync(payload, cancel.Token);
            while (!write.IsCompleted)
                Step(deadline, ref spin);
            write.GetAwaiter().GetResult();
            while (true)
            {
                var read = pipe.Input.ReadAsync(cancel.Token);
                while (!read.IsCompleted)
                    Step(deadline, ref spin);
                var result = read.GetAwaiter().GetResult();
                if (result.Buffer.Length >= payload.Length)
                {
                    pipe.Input.AdvanceTo(result.Buffer.GetPosition(payload.Length));
                    return;
                }
                if (result.IsCompleted)
                    throw new EndOfStreamException("the pipe's input ended");
                pipe.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }

        Task Run(int n)
        {
            for (int i = 0; i < n; i++)
                RoundTrip();
            return Task.CompletedTask;
        }

        await RpmsgWaitStrategyAllocationTests.AssertNothingPerMessageAsync(Run, "RpmsgDuplexPipe, caller-poll", Measured);
    }
}
