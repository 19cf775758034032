using System.Collections.Concurrent;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A destroyed endpoint sends nothing: its address is free for the next endpoint, so a send with it as the source would
/// reach the peer as that endpoint's. Every send refuses with ObjectDisposedException, and a send waiting for a tx
/// buffer when the endpoint is destroyed ends with it rather than at its timeout.
/// </summary>
public sealed class RpmsgDestroyedEndpointSendTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Host and remote polled by the test; the remote's 0x401 records the source of what it receives.</summary>
    private static RpmsgLoopback CallerPolled(out ConcurrentQueue<uint> seen)
    {
        var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        var sources = new ConcurrentQueue<uint>();
        loop.Remote.CreateEndpoint(0x401, (_, src, _) => sources.Enqueue(src));
        seen = sources;
        return loop;
    }

    public static TheoryData<string> Sends => new()
    {
        "Send", "SendWithTimeout", "SendTo", "SendToWithTimeout", "SendOffChannel", "TrySend", "TrySendTo", "TrySendOffChannel",
        "SendAsync", "SendToAsync", "SendOffChannelAsync", "TryGetTxBuffer", "GetTxBuffer",
    };

    [Theory]
    [MemberData(nameof(Sends))]
    public async Task Send_OnADestroyedEndpoint_ThrowsObjectDisposed_AndSendsNothing(string send)
    {
        using var loop = CallerPolled(out var seen);
        var ept = loop.Host.CreateEndpoint(0x500, remoteAddress: 0x401);
        ept.Dispose();

        var ex = await Record.ExceptionAsync(() => Run(ept, send));
        loop.Remote.Poll();

        Assert.True(ex is ObjectDisposedException, $"{send} on a destroyed endpoint: {(ex is null ? "no exception" : ex.GetType().Name)}; the peer received {seen.Count} message(s)");
        Assert.Empty(seen);
    }

    private static Task Run(RpmsgEndpoint ept, string send)
    {
        byte[] payload = [1];
        switch (send)
        {
            case "Send": ept.Send(payload); break;
            case "SendWithTimeout": ept.Send(payload, Bound); break;
            case "SendTo": ept.SendTo(0x401, payload); break;
            case "SendToWithTimeout": ept.SendTo(0x401, payload, Bound); break;
            case "SendOffChannel": ept.SendOffChannel(0x500, 0x401, payload); break;
            case "TrySend": ept.TrySend(payload); break;
            case "TrySendTo": ept.TrySendTo(0x401, payload); break;
            case "TrySendOffChannel": ept.TrySendOffChannel(0x500, 0x401, payload); break;
            case "SendAsync": return ept.SendAsync(payload).AsTask(); // a faulted task, not a throw
            case "SendToAsync": return ept.SendToAsync(0x401, payload).AsTask();
            case "SendOffChannelAsync": return ept.SendOffChannelAsync(0x500, 0x401, payload).AsTask();
            case "TryGetTxBuffer":
                if (ept.TryGetTxBuffer(out var taken))
                    taken.SendTo(0x401, 0);
                break;
            case "GetTxBuffer":
                var buffer = ept.GetTxBuffer(Bound);
                buffer.SendTo(0x401, 0);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(send), send, "unknown send");
        }
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // Send: the endpoint has no remote address, and the destroy is what it reports
    public void TxBuffer_TakenBeforeTheDestroy_RefusesToSend_AndGoesBackOnDispose(bool toRemoteAddress)
    {
        using var loop = CallerPolled(out var seen);
        var ept = loop.Host.CreateEndpoint(0x500);
        Assert.True(ept.TryGetTxBuffer(out var buffer));
        ept.Dispose();
        Exception? ex = null;
        try
        {
            if (toRemoteAddress)
                buffer.Send(0);
            else
                buffer.SendTo(0x401, 0);
        }
        catch (Exception e)
        {
            ex = e;
        }
        finally
        {
            buffer.Dispose();
        }
        loop.Remote.Poll();

        Assert.True(ex is ObjectDisposedException, $"a tx buffer of a destroyed endpoint: {(ex is null ? "sent" : ex.GetType().Name)}");
        Assert.Empty(seen);
    }

    // Every tx buffer in flight (the remote does not poll): the send waits. The destroy ends it long before its timeout.
    [Fact]
    public async Task Send_WaitingForATxBuffer_EndsWithObjectDisposed_WhenTheEndpointIsDestroyed()
    {
        using var loop = CallerPolled(out _);
        var ept = loop.Host.CreateEndpoint(0x500);
        while (ept.TrySendTo(0x401, [0])) { }
        var send = Task.Factory.StartNew(() => ept.SendTo(0x401, [1], TimeSpan.FromMinutes(5)), TaskCreationOptions.LongRunning);
        SpinWait.SpinUntil(() => loop.Host.Tx.Waiters > 0 || send.IsCompleted, Bound);
        Assert.False(send.IsCompleted, $"the send did not wait: {send.Exception?.InnerException?.Message}");

        ept.Dispose();
        var ex = await Record.ExceptionAsync(() => send.WaitAsync(Bound));

        Assert.True(ex is ObjectDisposedException, $"the waiting send: {(ex is null ? "sent" : ex.GetType().Name + ": " + ex.Message)}");
    }

    [Fact]
    public async Task SendAsync_WaitingForATxBuffer_EndsWithObjectDisposed_WhenTheEndpointIsDestroyed()
    {
        using var loop = CallerPolled(out _);
        var ept = loop.Host.CreateEndpoint(0x500);
        while (ept.TrySendTo(0x401, [0])) { }
        var send = ept.SendToAsync(0x401, new byte[] { 1 }).AsTask();
        Assert.False(send.IsCompleted); // parked on the tx signal

        ept.Dispose();
        var ex = await Record.ExceptionAsync(() => send.WaitAsync(Bound));

        Assert.True(ex is ObjectDisposedException, $"the waiting send: {(ex is null ? "sent" : ex.GetType().Name + ": " + ex.Message)}");
    }
}
