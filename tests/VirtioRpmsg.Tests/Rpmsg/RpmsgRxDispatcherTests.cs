using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgRxDispatcherTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static RpmsgLoopback CallerPollHost() => RpmsgLoopback.Create(host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    [Fact]
    public void Poll_MessagesPending_DeliversInOrderAndCountsThem()
    {
        using var loop = CallerPollHost();
        var received = new List<byte>();
        loop.Host.CreateEndpoint(0x500, (_, _, payload) => received.Add(payload[0]));
        var sender = loop.Remote.CreateEndpoint(0x400);
        for (byte i = 0; i < 5; i++)
            sender.SendTo(0x500, [i]);
        long rxBefore = loop.Host.Counters.RxMessages;
        int handled = 0;
        loop.WaitUntil(() => (handled += loop.Host.Rx.Poll()) >= 5, "five messages");
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, received);
        Assert.Equal(rxBefore + 5, loop.Host.Counters.RxMessages);
    }

    [Fact]
    public void Poll_NoEndpointAtDestination_DropsAndCounts()
    {
        using var loop = CallerPollHost();
        loop.Remote.CreateEndpoint(0x400).SendTo(0x777, [1]);
        loop.WaitUntil(() => loop.Host.Counters.Dropped == 1, "dropped message");
    }

    [Fact]
    public void Poll_InsideReceiveCallback_Throws()
    {
        using var loop = CallerPollHost();
        Exception? inner = null;
        loop.Host.CreateEndpoint(0x500, (_, _, _) => inner = Record.Exception(() => loop.Host.Poll()));
        loop.Remote.CreateEndpoint(0x400).SendTo(0x500, [1]);
        loop.WaitUntil(() => inner is not null, "callback ran");
        Assert.IsType<InvalidOperationException>(inner);
    }

    [Fact]
    public void IsDispatcherContext_OnlyInsideCallbacks()
    {
        using var loop = RpmsgLoopback.Create();
        var inside = new TaskCompletionSource<bool>();
        loop.Host.CreateEndpoint(0x500, (_, _, _) => inside.TrySetResult(loop.Host.Rx.IsDispatcherContext));
        Assert.False(loop.Host.Rx.IsDispatcherContext);
        loop.Remote.CreateEndpoint(0x400).SendTo(0x500, [1]);
        Assert.True(inside.Task.Wait(Bound));
        Assert.True(inside.Task.Result);
    }

    [Fact]
    public void ReleaseHeld_DeviceStopped_IsNoOpAndDoesNotThrow()
    {
        using var loop = RpmsgLoopback.Create();
        loop.Host.Stop("test");
        loop.Host.Rx.ReleaseHeld(0);
        Assert.Equal(0, loop.Host.Gate.InFlight);
    }
}
