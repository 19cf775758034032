using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Try / blocking / async send, buffer exhaustion, timeouts and cancellation.</summary>
public class RpmsgSendTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A loopback whose remote only consumes when the test polls it, so tx buffers can be exhausted.</summary>
    private static RpmsgLoopback StalledRemote(out RpmsgEndpoint sink, out int received)
    {
        var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        int count = 0;
        sink = loop.Remote.CreateEndpoint(0x400, (_, _, _) => Interlocked.Increment(ref count));
        received = 0;
        return loop;
    }

    private static int FillTx(RpmsgEndpoint ept)
    {
        int sent = 0;
        while (ept.TrySendTo(0x400, [1, 2, 3]))
            sent++;
        return sent;
    }

    [Fact]
    public void TrySend_NoFreeBuffer_ReturnsFalseThenSucceedsAfterPeerDrains()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        int sent = FillTx(ept);
        Assert.Equal(256, sent); // half of the 512-buffer pool is for tx
        Assert.False(ept.TrySendTo(0x400, [4]));

        Assert.Equal(256, loop.Remote.Poll());
        Assert.True(ept.TrySendTo(0x400, [5]));
    }

    [Fact]
    public void Send_NoFreeBuffer_TimesOutWithDocumentedException()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        var ex = Assert.Throws<TimeoutException>(() => ept.SendTo(0x400, [1], TimeSpan.FromMilliseconds(100)));
        Assert.Contains("no free tx buffer", ex.Message);
        Assert.True(loop.Host.Counters.TxBufferWaits >= 1);
    }

    [Fact]
    public void Send_Cancelled_ThrowsOperationCanceled()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        using var cts = new CancellationTokenSource();
        long waits = loop.Host.Counters.TxBufferWaits;
        var send = Task.Run(() => ept.SendTo(0x400, [1], Timeout.InfiniteTimeSpan, cts.Token));
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        Assert.False(send.IsCompleted);
        cts.Cancel();
        var ex = Assert.ThrowsAny<OperationCanceledException>(() => send.GetAwaiter().GetResult());
        Assert.Equal(cts.Token, ex.CancellationToken);
    }

    [Fact]
    public async Task SendAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        using var cts = new CancellationTokenSource();
        var send = ept.SendToAsync(0x400, new byte[] { 1 }, cts.Token).AsTask();
        Assert.False(send.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
    }

    [Fact]
    public void Send_BlockedWithoutBuffers_SucceedsOncePeerReturnsThem()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        long waits = loop.Host.Counters.TxBufferWaits;
        var send = Task.Run(() => ept.SendTo(0x400, [7], Bound));
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        Assert.False(send.IsCompleted);
        loop.Remote.Poll();
        Assert.True(send.Wait(Bound), "blocked send did not complete after the peer returned buffers");
    }

    [Fact]
    public async Task SendAsync_BlockedWithoutBuffers_CompletesOncePeerReturnsThem()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        var send = ept.SendToAsync(0x400, new byte[] { 7 }).AsTask();
        Assert.False(send.IsCompleted);
        loop.Remote.Poll();
        await send.WaitAsync(Bound);
    }

    [Fact]
    public void ZeroCopy_FillAndSend_DeliversWithoutCopy()
    {
        using var loop = RpmsgLoopback.Create();
        var sink = loop.Remote.CreateEndpoint(0x410);
        var ept = loop.Host.CreateEndpoint(0x411, 0x410u);
        var tx = ept.GetTxBuffer(Bound);
        Assert.Equal(496, tx.Capacity);
        "zero-copy"u8.CopyTo(tx.Span);
        tx.Send(9);
        tx.Dispose();
        var buf = new byte[16];
        var r = sink.Receive(buf, Bound);
        Assert.Equal("zero-copy", System.Text.Encoding.ASCII.GetString(buf, 0, r.Length));
        Assert.Equal(0x411u, r.Source);
    }

    [Fact]
    public void ZeroCopy_ReleaseWithoutSend_ReturnsBuffer()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        int all = FillTx(ept);
        loop.Remote.Poll();
        loop.WaitUntil(() => ept.TryGetTxBuffer(out var probe) && Release(ref probe), "tx buffers back");
        for (int i = 0; i < all * 2; i++)
        {
            Assert.True(ept.TryGetTxBuffer(out var tx));
            tx.Dispose(); // released, not sent: available again at once
        }
        Assert.Equal(0, loop.Remote.Poll());
    }

    [Fact]
    public void TxBuffer_ThreadOutOfLeases_RefusedAndEveryBufferStillThere()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        var refusedZeroCopy = HoldingEveryLease(loop.Region, () => Record.Exception(() => ept.TryGetTxBuffer(out _)));
        var refusedCopy = HoldingEveryLease(loop.Region, () => Record.Exception(() => ept.TrySendTo(0x400, [1])));
        Assert.IsType<InvalidOperationException>(refusedZeroCopy);
        Assert.IsType<InvalidOperationException>(refusedCopy);
        // Both took a buffer before the lease was refused: both gave it back, so as many fit as in a loop never refused.
        using var untouched = StalledRemote(out _, out _);
        Assert.Equal(FillTx(untouched.Host.CreateEndpoint()), FillTx(ept));
    }

    [Fact]
    public void TxBuffer_CopyDisposedAfterTheBufferWasSent_ThrowsAndReturnsTheStagingArrayOnce()
    {
        using var loop = RpmsgLoopback.Create(memoryType: VirtioRpmsg.Memory.SharedMemoryType.Device);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var ept = loop.Host.CreateEndpoint();
        var tx = ept.GetTxBuffer(Bound);
        var copy = tx; // a ref struct passed by value: both hold the one lease and staging array
        int capacity = tx.Capacity;
        tx.SendTo(0x400, 1);
        Exception? thrown = null;
        try
        {
            copy.Dispose();
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }
        Assert.NotNull(thrown);
        // Returned to the shared pool once: two rentals of its size are two arrays.
        var a = System.Buffers.ArrayPool<byte>.Shared.Rent(capacity);
        var b = System.Buffers.ArrayPool<byte>.Shared.Rent(capacity);
        Assert.NotSame(a, b);
        System.Buffers.ArrayPool<byte>.Shared.Return(a);
        System.Buffers.ArrayPool<byte>.Shared.Return(b);
    }

    // Runs body while this thread holds every mapping lease it may (ThreadLeaseTable.Capacity).
    private static T HoldingEveryLease<T>(VirtioRpmsg.Memory.SharedMemoryRegion region, Func<T> body, int held = 0)
    {
        if (held == VirtioRpmsg.Memory.ThreadLeaseTable.Capacity)
            return body();
        using var lease = region.Acquire();
        return HoldingEveryLease(region, body, held + 1);
    }

    private static bool Release(ref RpmsgTxBuffer buffer)
    {
        buffer.Dispose();
        return true;
    }

    [Fact]
    public void ZeroCopyReceive_HeldBuffer_StaysWithUsUntilReleased()
    {
        using var loop = RpmsgLoopback.Create();
        var held = new System.Collections.Concurrent.ConcurrentQueue<RpmsgRxBuffer>();
        var ept = loop.Host.CreateZeroCopyEndpoint(0x420, (_, buffer) =>
        {
            buffer.Hold();
            held.Enqueue(buffer);
        });
        var sender = loop.Remote.CreateEndpoint(0x421);
        sender.SendTo(0x420, "held"u8);
        loop.WaitUntil(() => held.Count == 1, "held message");
        Assert.True(held.TryPeek(out var b));
        using (var view = b.Open())
            Assert.Equal("held", System.Text.Encoding.ASCII.GetString(view.Payload));
        Assert.Equal(0x421u, b.Source);
        Assert.True(b.IsLive);
        b.Dispose();
        Assert.False(b.IsLive);
        Assert.Throws<ObjectDisposedException>(() => { using var v = b.Open(); });
    }

    [Fact]
    public void Send_MismatchedBufferSize_ReportsConfigurationErrorAndBreaksDevice()
    {
        using var loop = RpmsgLoopback.Create(hostBufferSize: 512, remoteBufferSize: 256);
        var ept = loop.Remote.CreateEndpoint(0x430);
        // The remote sees 512-byte host buffers although it was configured for 256.
        var ex = Assert.Throws<RpmsgConfigurationException>(() => ept.SendTo(0x431, [1]));
        Assert.Equal("buffer size", ex.Field);
        Assert.Equal(256ul, ex.LocalValue);
        Assert.Equal(512ul, ex.PeerValue);
        Assert.Equal(RpmsgDeviceState.Broken, loop.Remote.State);
        var after = Assert.Throws<RpmsgDeviceUnavailableException>(() => ept.SendTo(0x431, [1]));
        Assert.Contains("512-byte buffers", after.Message);
    }

    [Fact]
    public void WaitForLinkUp_HostNeverStarts_TimesOut()
    {
        using var loop = RpmsgLoopback.Create(start: false);
        loop.Remote.Start();
        Assert.False(loop.Remote.WaitForLinkUp(TimeSpan.FromMilliseconds(100)));
        Assert.Equal(RpmsgDeviceState.Starting, loop.Remote.State);
        Assert.Throws<RpmsgDeviceUnavailableException>(() => loop.Remote.CreateEndpoint(0x500).SendTo(1, [1]));
        loop.Host.Start();
        Assert.True(loop.Remote.WaitForLinkUp(Bound));
    }

    [Fact]
    public void Negotiation_NoNameServiceOffered_NoAnnouncementsSent()
    {
        using var loop = RpmsgLoopback.Create(deviceFeatures: VirtioFeatures.EventIndex);
        Assert.False(loop.Host.NameServiceEnabled);
        Assert.False(loop.Remote.NameServiceEnabled);
        loop.Remote.CreateNamedEndpoint("quiet", 0x440, (_, _, _) => { });
        var ept = loop.Remote.CreateEndpoint(0x441);
        ept.SendTo(0x442, [1]); // a marker after the (suppressed) announcement
        loop.WaitUntil(() => loop.Host.Counters.Dropped == 1, "marker arrived");
        Assert.Equal(1, loop.Host.Counters.RxMessages);
    }

    // A ValueTask awaited twice: the second GetResult is refused. It put the pooled send back in the pool a second
    // time (the free list then linked it to itself, and two later waiting sends shared it).
    [Fact]
    public async Task SendAsync_ResultTakenTwice_SecondGetResultThrowsInvalidOperation_AndLaterWaitingSendsEachComplete()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        FillTx(ept);
        var first = ept.SendToAsync(0x400, new byte[] { 1 });
        Assert.False(first.IsCompleted); // parked: a pooled send
        loop.WaitUntil(() => first.IsCompleted, "the waiting send completes");
        first.GetAwaiter().GetResult();

        Assert.Throws<InvalidOperationException>(() => first.GetAwaiter().GetResult());

        FillTx(ept);
        var a = ept.SendToAsync(0x400, new byte[] { 2 }).AsTask();
        var b = ept.SendToAsync(0x400, new byte[] { 3 }).AsTask();
        loop.WaitUntil(() => a.IsCompleted && b.IsCompleted, "both waiting sends complete");
        await Task.WhenAll(a, b);
    }

    // A negative length is not "too large": the refusal names 'length' and its value.
    [Fact]
    public void TxBuffer_SendTo_NegativeLength_IsArgumentOutOfRange_NamingLength()
    {
        using var loop = StalledRemote(out _, out _);
        var ept = loop.Host.CreateEndpoint();
        Assert.True(ept.TryGetTxBuffer(out var buffer));
        Exception? ex;
        try
        {
            buffer.SendTo(0x400, -1);
            ex = null;
        }
        catch (Exception e)
        {
            ex = e;
        }
        finally
        {
            buffer.Dispose(); // a refused send leaves the buffer held
        }

        var range = Assert.IsType<ArgumentOutOfRangeException>(ex);
        Assert.Equal("length", range.ParamName);
        Assert.Equal(-1, range.ActualValue);
    }

    // Linux rpmsg_send_offchannel_raw refuses RPMSG_ADDR_ANY as src or dst with -EINVAL; here the message went out, the
    // peer dropped it, and the caller was told it was sent.
    [Theory]
    [InlineData("SendTo", "destination")]
    [InlineData("TrySendTo", "destination")]
    [InlineData("SendOffChannel", "source")]
    [InlineData("TrySendOffChannel", "destination")]
    public void Send_AddrAny_IsRefusedNamingTheAddress(string call, string param)
    {
        using var loop = RpmsgLoopback.Create();
        using var ept = loop.Host.CreateEndpoint();
        loop.Remote.CreateEndpoint(0x700);
        long sent = loop.Host.Counters.TxMessages;
        Action send = call switch
        {
            "SendTo" => () => ept.SendTo(RpmsgAddress.Any, [1, 2, 3]),
            "TrySendTo" => () => ept.TrySendTo(RpmsgAddress.Any, [1]),
            "SendOffChannel" => () => ept.SendOffChannel(RpmsgAddress.Any, 0x700, [1]),
            _ => () => ept.TrySendOffChannel(ept.Address, RpmsgAddress.Any, [1]),
        };

        var e = Assert.Throws<ArgumentOutOfRangeException>(send);

        Assert.Equal(param, e.ParamName);
        Assert.Contains("0xFFFFFFFF", e.Message);
        Assert.Equal(sent, loop.Host.Counters.TxMessages);
    }

    [Fact]
    public async Task SendAsync_AddrAny_ReturnsAFaultedTask()
    {
        using var loop = RpmsgLoopback.Create();
        using var ept = loop.Host.CreateEndpoint();

        var to = ept.SendToAsync(RpmsgAddress.Any, new byte[] { 1 });
        var from = ept.SendOffChannelAsync(RpmsgAddress.Any, 0x700, new byte[] { 1 });

        Assert.True(to.IsFaulted && from.IsFaulted);
        Assert.Equal("destination", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(to.AsTask)).ParamName);
        Assert.Equal("source", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(from.AsTask)).ParamName);
    }

    [Fact]
    public void TxBuffer_SendTo_AddrAny_IsRefusedAndTheBufferStaysHeld()
    {
        using var loop = RpmsgLoopback.Create();
        using var ept = loop.Host.CreateEndpoint();
        Assert.True(ept.TryGetTxBuffer(out var buffer));
        Exception? ex = null;
        try
        {
            buffer.SendTo(RpmsgAddress.Any, 1);
        }
        catch (Exception e)
        {
            ex = e;
        }
        buffer.SendTo(0x700, 1); // still held: it can be sent after all

        Assert.Equal("destination", Assert.IsType<ArgumentOutOfRangeException>(ex).ParamName);
    }
}
