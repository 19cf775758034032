using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Tx buffers across processes: the remote is told to "stall" (stop consuming), so the host's tx buffers run
/// out; Try fails at once, blocking sends time out or are cancelled, and "resume" brings the buffers back.
/// </summary>
public sealed class CrossProcessFlowControlTests
{
    private static readonly byte[] Payload = "flow"u8.ToArray();

    [Fact]
    public void TrySend_RemoteStalled_FailsWhenBuffersRunOut_AndSendSucceedsAfterResume()
    {
        using var xp = CrossProcessRemote.Start();
        var ept = xp.WaitForChannel(SimulatedRemote.EchoServiceName).Endpoint;
        int sent = xp.StallAndFill(ept, Payload);
        // Every tx buffer and no more: the stalled remote returns none.
        Assert.Equal(xp.TxBuffers, sent);
        Assert.False(ept.TrySend(Payload));

        xp.Process.Command("resume");
        ept.Send(Payload, CrossProcessRemote.Limit);
        byte[] reply = new byte[ept.MaxPayload];
        // The plug, the filled buffers and the last send all come back.
        for (int i = 0; i < sent + 2; i++)
        {
            var r = ept.Receive(reply, CrossProcessRemote.Limit);
            Assert.Equal(Payload, reply[..r.Length]);
        }
    }

    [Fact]
    public void Send_RemoteStalledShortTimeout_ThrowsTimeoutException()
    {
        using var xp = CrossProcessRemote.Start();
        var ept = xp.WaitForChannel(SimulatedRemote.EchoServiceName).Endpoint;
        xp.StallAndFill(ept, Payload);

        var e = Bounded.Run(() => Record.Exception(() => ept.Send(Payload, TimeSpan.FromMilliseconds(200))));
        Assert.IsType<TimeoutException>(e);
        Assert.Contains("tx buffer", e.Message);
        Assert.True(xp.Host.Counters.TxBufferWaits > 0);
    }

    [Fact]
    public void Send_RemoteStalledAndCancelled_ThrowsOperationCanceled()
    {
        using var xp = CrossProcessRemote.Start();
        var ept = xp.WaitForChannel(SimulatedRemote.EchoServiceName).Endpoint;
        xp.StallAndFill(ept, Payload);

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var blocking = Bounded.Run(() => Record.Exception(() => ept.Send(Payload, CrossProcessRemote.Limit, cts.Token)));
        Assert.IsAssignableFrom<OperationCanceledException>(blocking);

        using var cts2 = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var pending = ept.SendAsync(Payload, cts2.Token).AsTask();
        var asyncError = Bounded.Run(() => Record.Exception(() => pending.GetAwaiter().GetResult()));
        Assert.IsAssignableFrom<OperationCanceledException>(asyncError);
    }

    [Fact]
    public void ReceiveAsync_NothingArrivesAndCancelled_ThrowsOperationCanceled()
    {
        using var xp = CrossProcessRemote.Start();
        using var ept = xp.Host.CreateEndpoint();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var pending = ept.ReceiveAsync(new byte[ept.MaxPayload], cts.Token).AsTask();
        var e = Bounded.Run(() => Record.Exception(() => pending.GetAwaiter().GetResult()));
        Assert.IsAssignableFrom<OperationCanceledException>(e);
    }
}
