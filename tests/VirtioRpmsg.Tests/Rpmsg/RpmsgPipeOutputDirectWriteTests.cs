using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

using static VirtioRpmsg.Tests.Rpmsg.RpmsgPipeReaderTests;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// <see cref="RpmsgDuplexPipe.Output"/>'s <c>WriteAsync</c> of one message with nothing buffered: sent from the caller's
/// memory, without the copy into the writer's buffer, and still what Write + FlushAsync did (order, waiting for tx
/// buffers, a failed send leaving the bytes to Complete, writes after Complete refused).
/// </summary>
public class RpmsgPipeOutputDirectWriteTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static byte[] Bytes(int length, byte first) => Enumerable.Range(0, length).Select(i => (byte)(first + i)).ToArray();

    [Fact]
    public async Task WriteAsync_MixedWithBufferedWritesAndALongWrite_ArrivesInOrderAndWhole()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var owned = loop;
        int max = peer.MaxPayload;
        var buffered = Bytes(10, 1);
        buffered.CopyTo(pipe.Output.GetSpan(10));
        pipe.Output.Advance(10);
        await pipe.Output.FlushAsync();
        var direct = Bytes(max, 2);          // one whole message: the direct path
        await pipe.Output.WriteAsync(direct);
        var longer = Bytes(max + 7, 3);     // more than a message: buffered and sent in two
        await pipe.Output.WriteAsync(longer);
        var last = Bytes(1, 4);
        await pipe.Output.WriteAsync(last);

        loop.Remote.Poll();
        var got = new List<byte[]>();
        var buffer = new byte[max];
        while (peer.TryReceive(buffer, TimeSpan.Zero, out var r))
            got.Add(buffer[..r.Length]);
        Assert.Equal(5, got.Count);
        Assert.Equal(buffered, got[0]);
        Assert.Equal(direct, got[1]);
        Assert.Equal(longer, got[2].Concat(got[3]).ToArray());
        Assert.Equal(last, got[4]);
    }

    [Fact]
    public async Task WriteAsync_NoTxBufferFree_WaitsWithTheBytesBuffered_AndSendsThemOnceOneIsBack()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var peer = loop.Remote.CreateEndpoint(0x400);
        var host = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        int filled = 0;
        while (host.TrySend([0xEE]))
            filled++;
        var pipe = new RpmsgDuplexPipe(host);
        var payload = Bytes(40, 9);
        var write = pipe.Output.WriteAsync(payload);
        Assert.False(write.IsCompleted, "set-up: no free tx buffer, the write waits");
        payload.AsSpan().Clear(); // the caller's memory is not read again: the bytes were buffered when it had to wait

        var buffer = new byte[64];
        byte[]? sent = null;
        var deadline = DateTime.UtcNow + Bound;
        while (sent is null && DateTime.UtcNow < deadline)
        {
            loop.Remote.Poll(); // takes the filler messages, which gives their tx buffers back
            while (peer.TryReceive(buffer, TimeSpan.Zero, out var r))
            {
                if (r.Length != 1)
                    sent = buffer[..r.Length];
            }
            loop.Host.Poll();
            Thread.Yield();
        }
        Assert.False((await write.AsTask().WaitAsync(Bound)).IsCompleted);
        Assert.True(filled > 0);
        Assert.Equal(Bytes(40, 9), sent);
        await pipe.DisposeAsync();
    }

    [Fact]
    public async Task WriteAsync_SendFails_FaultsTheWrite_AndCompleteStillAccountsForTheBytes()
    {
        var (loop, pipe, _) = CallerPolled();
        using var owned = loop;
        loop.Host.Stop();

        var e = await Record.ExceptionAsync(() => pipe.Output.WriteAsync(Bytes(20, 5)).AsTask());
        Assert.IsType<RpmsgDeviceUnavailableException>(e);
        pipe.Output.Complete();
        var completion = await Record.ExceptionAsync(() => pipe.Completion.WaitAsync(Bound));
        Assert.True(completion is not null, "Completion succeeded: the 20 bytes of the failed write were dropped without a word");
    }

    [Fact]
    public async Task CompleteOnAnotherThread_RacingWritesAndFlushes_EveryAcceptedByteIsSentOnce()
    {
        // Complete (the pipe's dispose, say) against the writer's thread, at every point of its writes: a write that
        // did not throw is sent exactly once (by its flush, or by Complete when it came between the write and its
        // flush), a refused one never, and Completion ends.
        for (int round = 0; round < 300; round++)
        {
            var (loop, pipe, peer) = CallerPolled();
            using var owned = loop;
            long accepted = 0;
            using var go = new Barrier(2);
            var writer = Task.Factory.StartNew(async () =>
            {
                go.SignalAndWait();
                for (int i = 0; i < 100; i++)
                {
                    try
                    {
                        if ((i & 1) == 0)
                        {
                            await pipe.Output.WriteAsync(Bytes(8, (byte)i));
                        }
                        else
                        {
                            Bytes(5, (byte)i).CopyTo(pipe.Output.GetSpan(5));
                            pipe.Output.Advance(5);
                            accepted += 5; // written: Complete sends it if the flush below comes after it
                            await pipe.Output.FlushAsync();
                            continue;
                        }
                        accepted += 8;
                    }
                    catch (InvalidOperationException)
                    {
                        break; // refused after Complete
                    }
                }
            }, TaskCreationOptions.LongRunning).Unwrap();
            go.SignalAndWait();
            for (int spin = 0; spin < round % 50; spin++)
                Thread.SpinWait(20);
            pipe.Output.Complete();
            await writer.WaitAsync(Bound);
            await pipe.Completion.WaitAsync(Bound);

            loop.Remote.Poll();
            long received = 0;
            var buffer = new byte[64];
            while (peer.TryReceive(buffer, TimeSpan.Zero, out var r))
                received += r.Length;
            Assert.Equal(accepted, received);
        }
    }

    [Fact]
    public async Task WriteAsync_AfterComplete_IsRefused_AsAWriteAfterComplete()
    {
        var (loop, pipe, peer) = CallerPolled();
        using var owned = loop;
        pipe.Output.Complete();
        Assert.ThrowsAny<InvalidOperationException>(() => { _ = pipe.Output.WriteAsync(Bytes(8, 1)); });
        await pipe.Completion.WaitAsync(Bound);
        loop.Remote.Poll();
        Assert.False(peer.TryReceive(new byte[16], TimeSpan.Zero, out _), "a write after Complete was sent");
    }
}
