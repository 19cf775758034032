using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review of the duplex pipe's Input under <see cref="RpmsgWaitStrategy.Interrupt"/> (a parked read's receive waited
/// for by the async doorbell holder, <see cref="RpmsgDoorbellAsyncHolder"/>): a parked read ends on dispose in every
/// state, failures reach it, and a reader whose continuation runs inline on the holder may complete or dispose the pipe
/// from there.
/// </summary>
public class RpmsgDuplexPipeInterruptReviewTests
{
    // The async holder stays until a test's message came, however slow the machine.
    private static RpmsgLoopback Loop()
    {
        var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
            o.ReaderWaitsOnDoorbell = true;
        });
        loop.Host.Rx.HandOver.Async.IdleHold = Bound;
        return loop;
    }

    [Fact]
    public async Task Reader_DisposingThePipeInItsInlineContinuation_EndsItsInput()
    {
        using var loop = Loop();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        long inline = 0;
        async Task ReadThenDispose()
        {
            var read = await pipe.Input.ReadAsync();
            inline = loop.Host.Rx.HandOver.Async.InlineCompletions; // the read's continuation, and so ours, ran on the holder
            pipe.Input.AdvanceTo(read.Buffer.End);
            await pipe.DisposeAsync();
        }
        var reader = ReadThenDispose(); // its read is pending (nothing sent yet): the holder runs the rest
        Assert.False(reader.IsCompleted);
        AwaitHeld(loop, () => !reader.IsCompleted, peer);
        peer.SendTo(0x500, [1, 2, 3]);
        peer.SendTo(0x500, [4, 5, 6]); // a message queued as the dispose runs: the input still ends
        await reader.WaitAsync(Bound);
        Assert.True(inline > 0, "the continuation did not run inline on the async holder");
        Assert.True((await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound)).IsCompleted, "a read after the dispose ends the input");
    }

    [Fact]
    public async Task Reader_CompletingInputInItsInlineContinuation_LeavesTheRestQueued()
    {
        using var loop = Loop();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        long inline = 0;
        async Task ReadThenComplete()
        {
            var read = await pipe.Input.ReadAsync();
            inline = loop.Host.Rx.HandOver.Async.InlineCompletions;
            pipe.Input.AdvanceTo(read.Buffer.End);
            pipe.Input.Complete();
        }
        var reader = ReadThenComplete();
        Assert.False(reader.IsCompleted);
        AwaitHeld(loop, () => !reader.IsCompleted, peer);
        peer.SendTo(0x500, [1, 2, 3]);
        await reader.WaitAsync(Bound);
        Assert.True(inline > 0, "the continuation did not run inline on the async holder");
        peer.SendTo(0x500, [4]); // nobody reads: it waits in the endpoint's queue
        await pipe.DisposeAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(1, endpoint.Receive(new byte[8], Bound).Length);
    }

    [Fact]
    public async Task DeviceStop_WhileAReadWaits_FaultsItWithUnavailable()
    {
        using var loop = Loop();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        loop.Remote.CreateEndpoint(0x501);
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        var read = pipe.Input.ReadAsync().AsTask();
        Assert.False(read.IsCompleted);

        loop.Host.Stop("test");

        await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => read.WaitAsync(Bound));
        await pipe.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task EndpointDestroyed_WhileAReadWaits_CompletesInputQuietly()
    {
        using var loop = Loop();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        loop.Remote.CreateEndpoint(0x501);
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        var read = pipe.Input.ReadAsync().AsTask();

        endpoint.Dispose();

        Assert.True((await read.WaitAsync(Bound)).IsCompleted);
        await pipe.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    /// <summary>
    /// An application's Poll that owns the ring, running a long callback (endpoint 0x600), while the holder waits for
    /// it: the holder's next look stops at its re-arm until that Poll is inside the callback. Dispose releases it.
    /// </summary>
    private sealed class ApplicationPollOwningTheRing : IDisposable
    {
        private readonly ManualResetEventSlim _entered = new();
        private readonly ManualResetEventSlim _release = new();
        private Task<int>? _poll;

        internal ApplicationPollOwningTheRing(RpmsgLoopback loop) =>
            loop.Host.CreateEndpoint(0x600, (_, _, _) =>
            {
                _entered.Set();
                _release.Wait(Bound);
            });

        /// <summary>Wakes the holder (which must hold the doorbell) and returns once the application's Poll runs the callback.</summary>
        internal void Start(RpmsgLoopback loop, RpmsgEndpoint peer)
        {
            int once = 0;
            loop.Host.Rx.HandOver.BeforeRearm = () =>
            {
                if (Interlocked.Exchange(ref once, 1) != 0)
                    return;
                peer.SendTo(0x600, [1]);
                _poll = Task.Factory.StartNew(() => loop.Host.Poll(), TaskCreationOptions.LongRunning);
                _entered.Wait(Bound); // that Poll owns the ring, inside the callback
            };
            peer.SendTo(0x5FF, [0]); // wakes the holder, which looks at its queue and runs the hook
            Assert.True(_entered.Wait(Bound), "the application's Poll never ran the callback");
        }

        public void Dispose()
        {
            _release.Set();
            _poll?.Wait(Bound);
            _entered.Dispose();
            _release.Dispose();
        }
    }

    private static RpmsgLoopback LongRecheckLoop()
    {
        var loop = RpmsgLoopback.Create(host: o =>
        {
            o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
            o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
            o.ReaderWaitsOnDoorbell = true;
        });
        // A pipe's read waits through the async holder, which gives the doorbell back after its idle hold (50 ms by
        // default): a test thread descheduled that long after AwaitHeld poked a dispatcher that holds it again, and the
        // holder's hook never ran.
        loop.Host.Rx.HandOver.Async.IdleHold = Bound;
        return loop;
    }

    [Fact]
    public async Task Dispose_WhileAReadHoldsTheDoorbellAndAnotherPollOwnsTheRing_EndsTheRead()
    {
        // An application's Poll owns the ring, running a long callback: the holder (for the parked read) waits for that
        // Poll to end rather than on the doorbell. A dispose cancels the read, and must end it then, not once that
        // callback returns.
        using var loop = LongRecheckLoop();
        using var appPoll = new ApplicationPollOwningTheRing(loop);
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var pipe = new RpmsgDuplexPipe(endpoint, 0x501);
        var read = pipe.Input.ReadAsync().AsTask();
        AwaitHeld(loop, poker: peer);
        appPoll.Start(loop, peer);
        await pipe.DisposeAsync();
        Assert.True(((IAsyncResult)read).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)),
            $"the read did not end while another Poll owned the ring ({loop.Host.Rx.HandOver})");
        Assert.True((await read).IsCompleted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BlockedReceive_WhileAnotherPollOwnsTheRing_EndsOnCancellationOrEndpointDestroy(bool destroy)
    {
        // The same wait under a plain blocking Receive: its token, or its queue closing (the hand-over's interrupt).
        using var loop = LongRecheckLoop();
        using var appPoll = new ApplicationPollOwningTheRing(loop);
        using var cancel = new CancellationTokenSource();
        var endpoint = loop.Host.CreateEndpoint(0x500);
        var peer = loop.Remote.CreateEndpoint(0x501);
        var reader = OnThread(() => endpoint.Receive(new byte[endpoint.MaxPayload], Timeout.InfiniteTimeSpan, cancel.Token));
        AwaitHeld(loop, poker: peer);
        appPoll.Start(loop, peer);
        if (destroy)
            endpoint.Dispose();
        else
            cancel.Cancel();
        Assert.True(((IAsyncResult)reader).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)),
            $"the reader did not leave while another Poll owned the ring ({loop.Host.Rx.HandOver})");
        var error = Assert.ThrowsAny<Exception>(() => reader.GetAwaiter().GetResult());
        Assert.True(destroy ? error is ObjectDisposedException : error is OperationCanceledException, error.ToString());
    }
}
