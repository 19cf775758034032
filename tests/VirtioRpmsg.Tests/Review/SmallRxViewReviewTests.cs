using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// Review smallrx, items 1 and 2: a copy of a disposed parked view refuses its payload as a copy of any other disposed
/// view does, and an <see cref="RpmsgRxBuffer"/> whose device stopped and whose memory was mapped again between the
/// zero-copy fence and the lease is refused with the documented <see cref="ObjectDisposedException"/>, not a memory error.
/// </summary>
public class SmallRxViewReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Payload_OfACopyOfADisposedParkedView_ThrowsObjectDisposed()
    {
        // z's callback waits for a tx buffer; p arrives meanwhile and is parked (copied out, its buffer given back),
        // then delivered to the zero-copy handler as a private copy.
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.CallerPoll;
                o.IdleRecheckInterval = TimeSpan.FromMilliseconds(10);
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var sender = loop.Remote.CreateEndpoint(0x401);
        var hostSender = loop.Host.CreateEndpoint(0x502);
        string? outcome = null;
        bool parked = false;
        loop.Host.CreateZeroCopyEndpoint(0x501, (e, buffer) =>
        {
            Span<byte> first = stackalloc byte[1];
            buffer.CopyTo(first);
            if (first[0] == (byte)'z')
            {
                e.SendTo(0x400, [1], Bound); // no tx buffer is free: waits, parking what arrives
                return;
            }
            parked = buffer.Id == -1; // a parked message comes in an object of its own, not a slot's
            var view = buffer.Open();
            var copy = view;
            view.Dispose();
            try
            {
                outcome = $"a copy of the disposed parked view still returned {copy.Payload.Length} bytes";
            }
            catch (ObjectDisposedException)
            {
                outcome = "refused";
            }
        });
        while (hostSender.TrySendTo(0x400, [0]))
        {
        }
        Assert.True(sender.TrySendTo(0x501, "z"u8));
        var peer = new Thread(() =>
        {
            var deadline = DateTime.UtcNow + Bound;
            while (loop.Host.Counters.TxBufferWaits == 0 && DateTime.UtcNow < deadline)
                Thread.Sleep(1);
            long rx = loop.Host.Counters.RxMessages;
            sender.TrySendTo(0x501, "p"u8);
            while (loop.Host.Counters.RxMessages < rx + 1 && DateTime.UtcNow < deadline)
                Thread.Sleep(1); // parked messages are counted when parked
            loop.Remote.Poll(); // takes the host's messages: their buffers go back, z's send goes through
        });
        peer.Start();
        loop.Host.Poll();
        Assert.True(peer.Join(Bound), "the peer thread did not finish");
        loop.Host.Poll();

        Assert.True(parked, "p was not delivered as a parked message");
        Assert.Equal("refused", outcome);
        Assert.Equal(0, MappingLease.HeldByCurrentThread);
    }

    [Theory]
    [InlineData(SharedMemoryType.Normal, false)]
    [InlineData(SharedMemoryType.Normal, true)]
    [InlineData(SharedMemoryType.Device, false)]
    [InlineData(SharedMemoryType.Device, true)]
    public void HeldBuffer_StopUnmapAndRemapBetweenItsFenceAndItsLease_OpenAndCopyToThrowObjectDisposed(SharedMemoryType memory, bool copyTo)
    {
        using var loop = RpmsgLoopback.Create(memoryType: memory);
        RpmsgRxBuffer? held = null;
        loop.Host.CreateZeroCopyEndpoint(0x420, (_, buffer) =>
        {
            buffer.Hold();
            Volatile.Write(ref held, buffer);
        });
        loop.Remote.CreateEndpoint(0x421).SendTo(0x420, "held"u8);
        loop.WaitUntil(() => Volatile.Read(ref held) is not null, "held message");
        var buffer = held!;
        int entered = 0;
        loop.Host.Rx.ZeroCopyEntered = () =>
        {
            entered++;
            loop.Host.Rx.ZeroCopyEntered = null;
            // The fence is passed; the device stops and its memory is mapped again for a new session.
            loop.Host.Stop("test");
            loop.Remote.Stop("test");
            loop.Region.Unmap(Bound);
            loop.Region.Remap();
        };

        var e = Record.Exception(() =>
        {
            if (copyTo)
            {
                buffer.CopyTo(new byte[16]);
                return;
            }
            using var view = buffer.Open();
        });

        Assert.Equal(1, entered);
        Assert.IsType<ObjectDisposedException>(e);
        Assert.IsAssignableFrom<RegionClosedException>(e.InnerException); // the memory's reason, kept inside
        Assert.Equal(0, loop.Host.ZeroCopy.Open);
        buffer.Dispose();
    }
}
