using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The host's sends claim the cache lines of the next free tx buffers ahead of time (DriverRoleTransport's
/// ClaimNextTxLines, docs/memory-ordering.md): one byte store per line a message of the same size would cover, in
/// the next <see cref="DriverRoleTransport.ClaimAheadBuffers"/> free buffers only, never on Device memory, and never
/// in a buffer a zero-copy sender holds or one the remote has not returned.
/// </summary>
public class RpmsgTxLineClaimTests
{
    private const byte Marker = 0xEE;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    // RpmsgLoopback: 512 buffers of 512 bytes at the OpenAMP pool address; the host's tx buffers are the upper
    // half, handed out lowest id first (the free queue is filled in id order).
    private const int BufferSize = 512;
    private const int FirstTx = 256;
    private const long Pool = 0x10000;

    private static long BufferOffset(int id) => Pool + (long)id * BufferSize;

    private static RpmsgLoopback CallerPollLoop(SharedMemoryType? memoryType = null) => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        memoryType: memoryType);

    private static void MarkTxBuffers(RpmsgLoopback loop, int first, int count)
    {
        using var lease = loop.Region.Acquire();
        lease.Fill(BufferOffset(first), count * BufferSize, Marker);
    }

    private static byte At(RpmsgLoopback loop, int id, int offset)
    {
        using var lease = loop.Region.Acquire();
        return lease.ReadByte(BufferOffset(id) + offset);
    }

    [Fact]
    public void CopySend_ClaimsTheLinesItsSizeCoversInTheNextTwoFreeBuffersAndNothingElse()
    {
        using var loop = CallerPollLoop();
        MarkTxBuffers(loop, FirstTx, 8);
        var sender = loop.Host.CreateEndpoint(0x500);
        // Header (16) + 100 bytes: two lines.
        Assert.True(sender.TrySendTo(0x400, new byte[100]));

        Assert.Equal(0, At(loop, FirstTx, 2)); // the message's own header (source 0x500: byte 2 is 0)
        for (int id = FirstTx + 1; id <= FirstTx + DriverRoleTransport.ClaimAheadBuffers; id++)
        {
            Assert.Equal(0, At(loop, id, 0));
            Assert.Equal(0, At(loop, id, 64));
            Assert.Equal(Marker, At(loop, id, 1));
            Assert.Equal(Marker, At(loop, id, 65));
            Assert.Equal(Marker, At(loop, id, 128)); // a third line: not covered by a 116-byte message
        }
        for (int id = FirstTx + DriverRoleTransport.ClaimAheadBuffers + 1; id < FirstTx + 8; id++)
        {
            for (int offset = 0; offset < BufferSize; offset += 64)
                Assert.Equal(Marker, At(loop, id, offset));
        }
    }

    [Fact]
    public void ZeroCopySend_ClaimsTheNextTwoFreeBuffersToo()
    {
        using var loop = CallerPollLoop();
        MarkTxBuffers(loop, FirstTx, 4);
        var sender = loop.Host.CreateEndpoint(0x500, 0x400u);
        Assert.True(sender.TryGetTxBuffer(out var zeroCopy));
        try
        {
            // Taken before the claim: the buffer being sent is FirstTx, the queue's front is FirstTx + 1.
            zeroCopy.Span[..100].Fill(1);
            zeroCopy.Send(100);
        }
        finally
        {
            zeroCopy.Dispose();
        }

        for (int id = FirstTx + 1; id <= FirstTx + DriverRoleTransport.ClaimAheadBuffers; id++)
        {
            Assert.Equal(0, At(loop, id, 0));
            Assert.Equal(0, At(loop, id, 64));
            Assert.Equal(Marker, At(loop, id, 128));
        }
        Assert.Equal(Marker, At(loop, FirstTx + DriverRoleTransport.ClaimAheadBuffers + 1, 0));
    }

    [Fact]
    public void DeviceMemory_SendsClaimNothing()
    {
        using var loop = CallerPollLoop(SharedMemoryType.Device);
        MarkTxBuffers(loop, FirstTx, 4);
        var sender = loop.Host.CreateEndpoint(0x500);
        Assert.True(sender.TrySendTo(0x400, new byte[100]));

        for (int id = FirstTx + 1; id < FirstTx + 4; id++)
        {
            Assert.Equal(Marker, At(loop, id, 0));
            Assert.Equal(Marker, At(loop, id, 64));
        }
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
