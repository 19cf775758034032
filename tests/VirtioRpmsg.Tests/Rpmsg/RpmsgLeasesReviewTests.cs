using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Review of the zero-copy and pipe APIs under misuse: nothing the application does with a buffer, a view or a pipe
/// may hand it memory that another message or another pool renter now owns; each refusal names what was wrong.
/// </summary>
public class RpmsgLeasesReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // Both roles caller-polled over four-entry rings: the host reuses a buffer's slot after four messages.
    private static RpmsgLoopback FourBufferLoop() => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        vringNum: 4);

    [Fact]
    public async Task PipeInput_CompletedDuringAParkedRead_TheReadFailsNamingComplete_NoBufferOverReleasedArrays()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var _ = loop;
        Deliver(loop, peer, [1, 2, 3]);
        var first = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
        pipe.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End); // kept, all examined: the next read parks
        var parked = pipe.Input.ReadAsync();
        Assert.False(parked.IsCompleted);

        pipe.Input.Complete(); // a misuse: the pending read's arrays go back to the pool

        ReadResult result = default;
        Exception? thrown = null;
        try
        {
            result = await parked.AsTask().WaitAsync(Bound);
        }
        catch (Exception e)
        {
            thrown = e;
        }
        if (thrown is null)
        {
            var buffer = result.Buffer;
            var reading = Record.Exception(() => buffer.ToArray().Length);
            Assert.Fail($"the parked read returned a {result.Buffer.Length}-byte buffer over arrays Complete gave back to the pool "
                + $"(reading it: {reading?.GetType().Name ?? "no exception"}: {reading?.Message})");
        }
        var refused = Assert.IsType<InvalidOperationException>(thrown);
        Assert.Contains("Complete", refused.Message);
        await pipe.DisposeAsync();
    }

    [Fact]
    public void HeldRxBuffer_DisposedTwice_AfterItsSlotWasReused_DoesNotGiveBackTheNewHoldersBuffer()
    {
        using var loop = FourBufferLoop();
        RpmsgRxBuffer? first = null;
        RpmsgRxBuffer? second = null;
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, buffer) =>
        {
            if (first is null)
            {
                buffer.Hold();
                first = buffer;
            }
            else if (second is null && buffer.Id == first.Id)
            {
                buffer.Hold(); // the same slot, now another message's
                second = buffer;
            }
        });
        var peer = loop.Remote.CreateEndpoint(0x400);
        Assert.True(peer.TrySendTo(0x500, [1]));
        Assert.Equal(1, loop.Host.Poll());
        Assert.NotNull(first);
        first.Dispose();
        for (int i = 0; i < 64 && second is null; i++)
        {
            Assert.True(peer.TrySendTo(0x500, [2, (byte)i]));
            Assert.Equal(1, loop.Host.Poll());
        }
        Assert.NotNull(second);

        first.Dispose(); // documented as idempotent: a second release of the first message

        Assert.True(second.IsLive, "the first message's second Dispose gave back the buffer the second message's holder still holds");
        using (var view = second.Open())
            Assert.Equal(2, view.Payload[0]);
        second.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { using var v = first.Open(); });
    }

    [Fact]
    public void RxView_OpenWhenItsHeldBufferIsDisposed_KeepsTheBuffer_UntilTheViewCloses()
    {
        using var loop = FourBufferLoop();
        RpmsgRxBuffer? held = null;
        int heldId = -1;
        bool reused = false;
        loop.Host.CreateZeroCopyEndpoint(0x500, (_, buffer) =>
        {
            if (held is null)
            {
                buffer.Hold();
                held = buffer;
                heldId = buffer.Id;
            }
            else if (buffer.Id == heldId)
                reused = true;
        });
        var peer = loop.Remote.CreateEndpoint(0x400);
        Assert.True(peer.TrySendTo(0x500, [1]));
        Assert.Equal(1, loop.Host.Poll());
        Assert.NotNull(held);
        var view = held.Open();
        try
        {
            held.Dispose(); // a misuse: the buffer was given back to the peer at once, under the open view
            for (int i = 0; i < 16; i++)
            {
                Assert.True(peer.TrySendTo(0x500, [(byte)(0x80 + i)]));
                Assert.Equal(1, loop.Host.Poll());
                byte seen = view.Payload[0];
                Assert.True(seen == 1, $"the open view now shows the peer's message {seen:X2}, written into the buffer after it was given back");
            }
            Assert.False(reused, "the peer reused the buffer while a view of it was open");
        }
        finally
        {
            view.Dispose(); // now it goes back: nothing is lost
        }
        for (int i = 0; i < 64 && !reused; i++)
        {
            Assert.True(peer.TrySendTo(0x500, [2]));
            Assert.Equal(1, loop.Host.Poll());
        }
        Assert.True(reused, "the buffer never came back after its view closed");
        Assert.Throws<ObjectDisposedException>(() => { using var v = held.Open(); });
    }

    private static (RpmsgLoopback Loop, RpmsgDuplexPipe Pipe, ConcurrentQueue<byte[]> Received, int Filler) PipeWithFullTxRing()
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var received = new ConcurrentQueue<byte[]>();
        loop.Remote.CreateEndpoint(0x400, (_, _, payload) => received.Enqueue(payload.ToArray()));
        var host = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        int filler = 0;
        while (host.TrySend([0xEE]))
            filler++;
        return (loop, new RpmsgDuplexPipe(host), received, filler);
    }

    [Fact]
    public async Task PipeOutput_GetMemoryDuringAPendingFlush_IsRefused_TheFlushSendsWhatWasWritten()
    {
        var (loop, pipe, received, filler) = PipeWithFullTxRing();
        using var _ = loop;
        var data = Enumerable.Range(0, 64).Select(i => (byte)(i * 7 + 1)).ToArray();
        var flush = pipe.Output.WriteAsync(data);
        Assert.False(flush.IsCompleted, "no tx buffer is free: the flush must wait");

        var refused = Record.Exception(() => pipe.Output.GetMemory(4096)); // a misuse: grows the buffer the flush sends from
        if (refused is null)
        {
            var renter = ArrayPool<byte>.Shared.Rent(512); // another pool user, on this thread
            renter.AsSpan().Fill(0xAA);
        }
        Assert.Equal(filler, loop.Remote.Poll());
        loop.Host.Poll();
        await flush.AsTask().WaitAsync(Bound);
        Assert.Equal(1, loop.Remote.Poll());
        var sent = received.Last();
        Assert.True(sent.AsSpan().SequenceEqual(data), $"the flush sent [{Convert.ToHexString(sent.AsSpan(0, 8))}...] instead of the written [{Convert.ToHexString(data.AsSpan(0, 8))}...]");
        var e = Assert.IsType<InvalidOperationException>(refused);
        Assert.Contains("flush is still pending", e.Message);
        Assert.Contains("GetMemory", e.Message);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task PipeOutput_FlushAsyncDuringAPendingFlush_IsRefused_TheFirstFlushStillCompletes()
    {
        var (loop, pipe, received, filler) = PipeWithFullTxRing();
        using var _ = loop;
        var data = new byte[] { 1, 2, 3 };
        var flush = pipe.Output.WriteAsync(data);
        Assert.False(flush.IsCompleted);
        var first = flush.AsTask(); // awaited already, as an application's flush is

        ValueTask<FlushResult> second = default;
        var refused = Record.Exception(() => { second = pipe.Output.FlushAsync(); });

        Assert.Equal(filler, loop.Remote.Poll());
        loop.Host.Poll();
        var ended = await Record.ExceptionAsync(() => first.WaitAsync(Bound));
        Assert.True(ended is null, $"the first flush did not complete after a second FlushAsync: {ended?.GetType().Name}: {ended?.Message}");
        var e = Assert.IsType<InvalidOperationException>(refused);
        Assert.Contains("FlushAsync", e.Message);
        Assert.Equal(1, loop.Remote.Poll());
        Assert.Equal(data, received.Last());
        await pipe.DisposeAsync();
    }
    [Fact]
    public async Task PipeOutput_CompletedWhileAFlushIsSending_SendsEachMessageOnce_AndTheFlushSucceeds()
    {
        // The pipe's dispose on another thread, landing while a flush that found free buffers is still sending: here
        // at the flush's first doorbell ring, on the flushing thread, so that the moment is certain.
        OnRingDoorbell? bell = null;
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.Interrupt, // asleep on its doorbell: the host rings
            deviceFeatures: RpmsgFeatures.NameService,
            hookedDoorbells: true,
            hostDoorbell: d => bell = new OnRingDoorbell(d));
        var received = new ConcurrentQueue<byte[]>();
        loop.Remote.CreateEndpoint(0x400, (_, _, payload) => received.Enqueue(payload.ToArray()));
        var pipe = new RpmsgDuplexPipe(loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400));
        var data = Enumerable.Range(0, 600).Select(i => (byte)(i * 13 + 5)).ToArray(); // 496 + 104 bytes
        var span = pipe.Output.GetSpan(data.Length);
        data.CopyTo(span);
        pipe.Output.Advance(data.Length);
        loop.WaitUntil(() => ((HookedDoorbell)loop.RemoteBell).HasWaiter, "the remote sleeps on its doorbell");
        bell!.OnNextRing = () => pipe.Output.Complete();

        var flush = pipe.Output.FlushAsync();
        Assert.True(bell.OnNextRing is null, "the flush did not ring (nothing to check)");

        var failed = await Record.ExceptionAsync(() => flush.AsTask().WaitAsync(Bound));
        await pipe.Completion.WaitAsync(Bound);
        loop.WaitUntil(() => received.Sum(m => m.Length) >= data.Length, "the remote received what was sent");
        Assert.True(failed is null, $"the flush failed: {failed?.GetType().Name}: {failed?.Message}");
        Assert.Equal(new[] { 496, 104 }, received.Select(m => m.Length).ToArray());
        Assert.Equal(data, received.SelectMany(m => m).ToArray());
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task Stream_SecondWriteAsync_WhileAMultiMessageWriteWaits_IsRefused_TheFirstStillCompletes()
    {
        // A misuse (a Stream allows one write at a time): the second write took over the first's reused write object,
        // and once buffers came back the first's send completed it twice, on a pool thread (the process ended).
        var (loop, pipe, received, filler) = PipeWithFullTxRing();
        using var _ = loop;
        await pipe.DisposeAsync();
        var stream = new RpmsgStream(pipe.Endpoint);
        var first = Enumerable.Range(0, 600).Select(i => (byte)i).ToArray(); // two messages: 496 + 104
        var write = stream.WriteAsync(first);
        Assert.False(write.IsCompleted, "no tx buffer is free: the write must wait");
        var firstTask = write.AsTask();

        var second = stream.WriteAsync(new byte[600]);
        var refused = await Record.ExceptionAsync(() => second.AsTask());

        Assert.Equal(filler, loop.Remote.Poll());
        loop.Host.Poll();
        var ended = await Record.ExceptionAsync(() => firstTask.WaitAsync(Bound));
        Assert.True(ended is null, $"the first write did not complete: {ended?.GetType().Name}: {ended?.Message}");
        var e = Assert.IsType<InvalidOperationException>(refused);
        Assert.Contains("write is already pending", e.Message);
        loop.Host.Poll();
        loop.Remote.Poll();
        loop.Host.Poll();
        loop.Remote.Poll();
        Assert.Equal(first, received.Skip(filler).SelectMany(m => m).ToArray());
        stream.Dispose();
    }

    private sealed class OnRingDoorbell(IDoorbell inner) : IDoorbell
    {
        public Action? OnNextRing;

        public bool Ring()
        {
            Interlocked.Exchange(ref OnNextRing, null)?.Invoke();
            return inner.Ring();
        }

        public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => inner.Wait(timeout, cancellationToken);

        public bool Drain() => inner.Drain();

        public void Dispose() => inner.Dispose();
    }
}
