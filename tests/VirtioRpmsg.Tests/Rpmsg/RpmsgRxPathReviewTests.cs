using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Review of the receive side and endpoints (rxpath): stop, timeouts, refusals.</summary>
public class RpmsgRxPathReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static RpmsgLoopback CallerPolled() => RpmsgLoopback.Create(
        host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    // The send timeout's message named Options.SendTimeout ("30000 ms unless overridden") even for a caller's own.
    [Theory]
    [InlineData("SendTo")]
    [InlineData("Send")]
    [InlineData("SendOffChannel")]
    [InlineData("GetTxBuffer")]
    public void Send_OwnTimeout_TimeoutExceptionNamesThatTimeout(string send)
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var ept = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x400);
        while (ept.TrySendTo(0x400, [1]))
        {
        }
        var timeout = TimeSpan.FromMilliseconds(40);
        var ex = Assert.Throws<TimeoutException>(() =>
        {
            switch (send)
            {
                case "SendTo": ept.SendTo(0x400, [1], timeout); break;
                case "Send": ept.Send([1], timeout); break;
                case "SendOffChannel": ept.SendOffChannel(0x500, 0x400, [1], timeout); break;
                default: ept.GetTxBuffer(timeout).Dispose(); break;
            }
        });
        Assert.Contains("40 ms", ex.Message);
        Assert.DoesNotContain("30000", ex.Message);
    }

    // A send whose remote address is learned while it waits, then finds no buffer: the whole timeout is the caller's.
    [Fact]
    public void Send_RemoteLearnedThenNoBuffer_TimeoutExceptionNamesTheCallersTimeout()
    {
        using var loop = RpmsgLoopback.Create(remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var sink = loop.Remote.CreateEndpoint(0x400, (_, _, _) => { });
        var ept = loop.Host.CreateEndpoint(0x500);
        while (ept.TrySendTo(0x400, [1]))
        {
        }
        // Started before the remote address is known (usually: either way the timeout is the caller's).
        var send = Task.Run(() => ept.Send([1], TimeSpan.FromMilliseconds(300)));
        sink.SendTo(0x500, [7]); // the host learns 0x400 from it; the remote is not polled, so no tx buffer comes back
        var ex = Assert.Throws<TimeoutException>(() => send.GetAwaiter().GetResult());
        Assert.Contains("no free tx buffer", ex.Message);
        Assert.DoesNotContain("30000", ex.Message);
    }

    // "On destroy, break or stop the channel is completed: readers get what is queued, then
    // RpmsgDeviceUnavailableException" (docs/architecture.md). After Stop the queued message was drained (lost) and
    // the reader got ObjectDisposedException, which documents a destroyed endpoint, not a stopped device.
    [Fact]
    public void Receive_AfterStop_GetsWhatIsQueued_ThenDeviceUnavailable()
    {
        using var loop = CallerPolled();
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [1, 2, 3]));
        Assert.Equal(1, loop.Host.Poll());
        loop.Host.Stop("remote crashed");

        var buffer = new byte[8];
        var first = Record.Exception(() => queue.Receive(buffer, Bound));
        Assert.Null(first);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer[..3]);
        var ex = Assert.Throws<RpmsgDeviceUnavailableException>(() => queue.Receive(buffer, Bound));
        Assert.Equal(RpmsgDeviceState.Stopped, ex.State);
        Assert.Contains("remote crashed", ex.Message);
    }

    [Fact]
    public async Task ReceiveAsync_AfterStop_ReportsDeviceUnavailable_NotObjectDisposed()
    {
        using var loop = CallerPolled();
        var queue = loop.Host.CreateEndpoint(0x500);
        loop.Host.Stop("remote crashed");

        await Assert.ThrowsAsync<RpmsgDeviceUnavailableException>(() => queue.ReceiveAsync(new byte[8]).AsTask());
        Assert.Throws<RpmsgDeviceUnavailableException>(() => queue.TryReceive(new byte[8], TimeSpan.Zero, out _));
        Assert.Throws<RpmsgDeviceUnavailableException>(() => queue.Receive(new byte[8], TimeSpan.FromMilliseconds(10)));
    }

    [Fact]
    public void Receive_AfterDispose_StillObjectDisposed_AndTheQueueIsDropped()
    {
        using var loop = CallerPolled();
        var queue = loop.Host.CreateEndpoint(0x500);
        var sender = loop.Remote.CreateEndpoint(0x501);
        Assert.True(sender.TrySendTo(0x500, [1]));
        Assert.Equal(1, loop.Host.Poll());
        queue.Dispose();
        Assert.Throws<ObjectDisposedException>(() => queue.Receive(new byte[8], Bound));
        Assert.Equal(0, loop.Host.QueueBudget.Used);
    }

    // A send that passed its not-destroyed check just before a destroy went out with the old source address, which the
    // next endpoint created already had: the peer saw it (and replied to it) as that endpoint's. The hook runs on the
    // sender between its check and its take; the destroy and the new endpoint come there.
    [Fact]
    public void Send_DestroyedBetweenItsCheckAndItsTake_IsRefused_AndTheNewEndpointsAddressSendsNothing()
    {
        using var loop = CallerPolled();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        loop.Remote.CreateEndpoint(0x401, (_, src, _) => seen.Enqueue(src));
        var old = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x401);
        RpmsgEndpoint? successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            old.Dispose();
            successor = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x401); // the address is free again
        };

        var ex = Record.Exception(() => old.Send([1]));
        loop.Remote.Poll();

        Assert.NotNull(successor);
        Assert.True(ex is ObjectDisposedException, $"the send after the destroy: {(ex is null ? "no exception" : ex.GetType().Name)}; the peer received {seen.Count} message(s) from 0x500");
        Assert.Empty(seen);
    }

    // The same race for a zero-copy send: its check came before the destroy, its submission after, and the buffer went
    // out with the address the next endpoint already held.
    [Fact]
    public void ZeroCopySend_DestroyedBetweenItsCheckAndItsSubmission_IsRefused_AndTheBufferComesBack()
    {
        // 16 tx buffers: few enough to hold them all at once (each holds a lease) when counting the free ones.
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            vringNum: 16);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        loop.Remote.CreateEndpoint(0x401, (_, src, _) => seen.Enqueue(src));
        var old = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x401);
        int free = FreeTxBuffers(old);
        Assert.True(old.TryGetTxBuffer(out var buffer));
        buffer.Span[0] = 7;
        RpmsgEndpoint? successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            old.Dispose();
            successor = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x401);
        };

        Exception? ex = null;
        try
        {
            buffer.Send(1);
        }
        catch (Exception e)
        {
            ex = e;
        }
        loop.Remote.Poll();

        Assert.NotNull(successor);
        Assert.True(ex is ObjectDisposedException, $"the zero-copy send after the destroy: {(ex is null ? "no exception" : ex.GetType().Name)}; the peer received {seen.Count} message(s) from 0x500");
        Assert.Empty(seen);
        Assert.Equal(free, FreeTxBuffers(successor!)); // given back unsent
    }

    // Takes every free tx buffer (each held until the count is known), then gives them all back.
    private static int FreeTxBuffers(RpmsgEndpoint endpoint)
    {
        if (!endpoint.TryGetTxBuffer(out var held))
            return 0;
        try
        {
            return 1 + FreeTxBuffers(endpoint);
        }
        finally
        {
            held.Dispose();
        }
    }

    // The peer's DESTROY of a channel freed the channel endpoint's address before marking it destroyed: a send of the
    // channel between the two could still go out, under the address of an endpoint created meanwhile.
    [Fact]
    public void ChannelSend_PeerDestroysTheChannelBetweenTheCheckAndTheTake_IsRefused()
    {
        using var loop = CallerPolled();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("race-svc"));
        var service = loop.Remote.CreateNamedEndpoint("race-svc", 0x401, (_, src, _) => seen.Enqueue(src));
        loop.Host.Poll();
        var channel = Assert.Single(loop.Host.Channels);
        uint address = channel.LocalAddress;
        RpmsgEndpoint? successor = null;
        loop.Host.Tx.ApplicationTakeChecked = () =>
        {
            loop.Host.Tx.ApplicationTakeChecked = null;
            service.Dispose(); // the remote's DESTROY
            loop.Host.Poll();
            successor = loop.Host.CreateEndpoint(address, remoteAddress: 0x401);
        };

        var ex = Record.Exception(() => channel.Endpoint.Send([1]));
        loop.Remote.Poll();

        Assert.NotNull(successor);
        Assert.True(ex is ObjectDisposedException, $"the channel's send after the peer's DESTROY: {(ex is null ? "no exception" : ex.GetType().Name)}; the peer received {seen.Count} message(s)");
        Assert.Empty(seen);
    }

    // Inside the DESTROY's handling, between the channel leaving the list and its endpoint being destroyed: the old
    // order freed the address first, so a new endpoint took it while the channel's sends still went out with it.
    [Fact]
    public void PeerDestroy_AddressNotFreeUntilTheChannelEndpointIsDestroyed()
    {
        using var loop = CallerPolled();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<uint>();
        loop.Host.RegisterDriver(new RpmsgServiceDriver("order-svc"));
        var service = loop.Remote.CreateNamedEndpoint("order-svc", 0x401, (_, src, _) => seen.Enqueue(src));
        loop.Host.Poll();
        var channel = Assert.Single(loop.Host.Channels);
        uint address = channel.LocalAddress;
        Exception? taken = null;
        bool sent = false;
        loop.Host.ChannelDestroying = ept =>
        {
            loop.Host.ChannelDestroying = null;
            taken = Record.Exception(() => loop.Host.CreateEndpoint(address, remoteAddress: 0x401));
            sent = Record.Exception(() => ept.Send([2])) is null;
        };

        service.Dispose();
        loop.Host.Poll();
        loop.Remote.Poll();

        Assert.True(taken is not null || !sent,
            $"a new endpoint took 0x{address:X} while the channel's endpoint still sent with it ({seen.Count} message(s) reached the peer)");
        Assert.True(channel.Endpoint.IsDestroyed);
    }
}
