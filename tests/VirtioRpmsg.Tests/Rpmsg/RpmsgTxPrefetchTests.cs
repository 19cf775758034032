using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Each send write-prefetches the lines of the buffer the next sends will fill (the host: the next
/// <see cref="DriverRoleTransport.PrefetchAheadBuffers"/> free tx buffers; the remote: the next available host rx
/// buffer; docs/memory-ordering.md). A prefetch is a hint with no effect on contents, so what is tested is that a
/// send writes nothing but its own buffer, on Normal and on Device memory (where nothing is prefetched), and that
/// messages arrive intact whatever the sizes. Until the tenth round of issue 15 the host claimed those lines with a
/// byte store into each, which these markers would have caught.
/// </summary>
public class RpmsgTxPrefetchTests
{
    private const byte Marker = 0xEE;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // RpmsgLoopback: 512 buffers of 512 bytes at the OpenAMP pool address; the host's rx buffers are the lower half,
    // posted in id order, and its tx buffers the upper half, handed out lowest id first (the free queue is in id order).
    private const int BufferSize = 512;
    private const int FirstTx = 256;
    private const long Pool = 0x10000;

    private static long BufferOffset(int id) => Pool + (long)id * BufferSize;

    private static RpmsgLoopback CallerPollLoop(SharedMemoryType? memoryType = null) => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        memoryType: memoryType);

    private static void Mark(RpmsgLoopback loop, int first, int count)
    {
        using var lease = loop.Region.Acquire();
        for (int id = first; id < first + count; id++)
        {
            for (int offset = 0; offset < BufferSize; offset += 8)
                lease.WriteUInt64(BufferOffset(id) + offset, 0xEEEE_EEEE_EEEE_EEEEUL);
        }
    }

    // Checks each byte through 8-byte reads, so it works on Device memory too.
    private static bool Untouched(RpmsgLoopback loop, int id)
    {
        using var lease = loop.Region.Acquire();
        for (int offset = 0; offset < BufferSize; offset += 8)
        {
            if (lease.ReadUInt64(BufferOffset(id) + offset) != 0xEEEE_EEEE_EEEE_EEEEUL)
                return false;
        }
        return true;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CopySend_WritesItsOwnBufferOnly(bool deviceMemory)
    {
        using var loop = CallerPollLoop(deviceMemory ? SharedMemoryType.Device : null);
        Mark(loop, FirstTx, 8);
        var sender = loop.Host.CreateEndpoint(0x500);
        Assert.True(sender.TrySendTo(0x400, new byte[100])); // header + 100 bytes: two lines

        Assert.False(Untouched(loop, FirstTx));
        for (int id = FirstTx + 1; id < FirstTx + 8; id++)
            Assert.True(Untouched(loop, id), $"tx buffer {id} was written by a send into buffer {FirstTx}");
    }

    [Fact]
    public void ZeroCopySend_WritesItsOwnBufferOnly()
    {
        using var loop = CallerPollLoop();
        Mark(loop, FirstTx, 4);
        var sender = loop.Host.CreateEndpoint(0x500, 0x400u);
        Assert.True(sender.TryGetTxBuffer(out var zeroCopy));
        try
        {
            zeroCopy.Span[..100].Fill(1);
            zeroCopy.Send(100);
        }
        finally
        {
            zeroCopy.Dispose();
        }
        Assert.False(Untouched(loop, FirstTx));
        for (int id = FirstTx + 1; id < FirstTx + 4; id++)
            Assert.True(Untouched(loop, id), $"tx buffer {id} was written by a zero-copy send into buffer {FirstTx}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RemoteReply_WritesItsOwnHostRxBufferOnly(bool deviceMemory)
    {
        using var loop = CallerPollLoop(deviceMemory ? SharedMemoryType.Device : null);
        // The remote's first replies go into the host's first rx buffers; the ones after them must stay as marked.
        Mark(loop, 0, 8);
        var remote = loop.Remote.CreateEndpoint(0x400, (endpoint, source, payload) => endpoint.SendTo(source, payload));
        var host = loop.Host.CreateEndpoint(0x500);
        Assert.True(host.TrySendTo(0x400, new byte[100]));
        Assert.Equal(1, loop.Remote.Poll());

        Assert.False(Untouched(loop, 0));
        for (int id = 1; id < 8; id++)
            Assert.True(Untouched(loop, id), $"host rx buffer {id} was written by a reply into buffer 0");
        GC.KeepAlive(remote);
    }

    [Fact]
    public void BuffersTheRemoteHoldsAndAHeldZeroCopyBuffer_AreNotWrittenBySends()
    {
        using var loop = CallerPollLoop();
        var held = new List<RpmsgRxBuffer>();
        // The remote keeps every message it is given (zero-copy), so none of its buffers go back to the host.
        loop.Remote.CreateZeroCopyEndpoint(0x400, (_, buffer) =>
        {
            buffer.Hold();
            held.Add(buffer);
        });
        var sender = loop.Host.CreateEndpoint(0x500, 0x400u);
        int max = sender.Device.MaxPayload;
        var payloads = new List<byte[]>();
        for (int i = 0; i < 6; i++)
        {
            var payload = new byte[i % 2 == 0 ? max : 7];
            Array.Fill(payload, (byte)(i + 1));
            payloads.Add(payload);
            Assert.True(sender.TrySendTo(0x400, payload));
        }
        Assert.Equal(6, loop.Remote.Poll());

        // Sends while the remote holds those six and this thread holds a zero-copy buffer.
        Assert.True(sender.TryGetTxBuffer(out var zeroCopy));
        try
        {
            zeroCopy.Span.Fill(0x5A);
            for (int i = 0; i < 3; i++)
                Assert.True(sender.TrySendTo(0x400, new byte[max]));
            Assert.True(zeroCopy.Span.IndexOfAnyExcept((byte)0x5A) < 0, "a send wrote into the buffer a zero-copy sender holds");
            zeroCopy.Send(zeroCopy.Span.Length);
        }
        finally
        {
            // Releases the buffer's lease if an assertion failed first, so the real failure is what gets reported.
            zeroCopy.Dispose();
        }

        Assert.Equal(4, loop.Remote.Poll());
        Assert.Equal(10, held.Count);
        for (int i = 0; i < 6; i++)
        {
            using var view = held[i].Open();
            Assert.True(view.Payload.SequenceEqual(payloads[i]), $"message {i} changed while the remote held it");
        }
        using (var last = held[9].Open())
        {
            Assert.Equal(max, last.Payload.Length);
            Assert.True(last.Payload.IndexOfAnyExcept((byte)0x5A) < 0, "the zero-copy message arrived changed");
        }
        foreach (var buffer in held)
            buffer.Dispose();
    }

    [Fact]
    public void MixedSizes_EveryMessageArrivesIntact()
    {
        using var loop = RpmsgLoopback.Create();
        var channel = RpmsgEchoTests.BindEcho(loop);
        var reply = new byte[loop.Host.MaxPayload];
        int[] sizes = [loop.Host.MaxPayload, 0, 1, 63, 64, 47, 48, 49, loop.Host.MaxPayload, 3];
        for (int round = 0; round < 40; round++)
        {
            int size = sizes[round % sizes.Length];
            var payload = new byte[size];
            for (int i = 0; i < size; i++)
                payload[i] = (byte)(i * 7 + round + 1);
            channel.Send(payload);
            var result = channel.Endpoint.Receive(reply, Bound);
            Assert.Equal(size, result.Length);
            Assert.True(payload.AsSpan().SequenceEqual(reply.AsSpan(0, size)), $"round {round}: {size} bytes differ");
        }
    }
}
