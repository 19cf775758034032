using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// What a buggy or hostile peer can send again and again (here messages to an address with no endpoint) is counted,
/// and logged with a rate limit; with logging off the receive side builds no text for it: a flood must not turn into
/// an allocation per message on the dispatcher.
/// </summary>
public class RpmsgPeerFloodAllocationTests
{
    private static RpmsgLoopback CallerPolled(Action<RpmsgDeviceOptions>? host = null) => RpmsgLoopback.Create(
        host: o => { o.WaitStrategy = RpmsgWaitStrategy.CallerPoll; host?.Invoke(o); },
        remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);

    [Fact]
    public void MessagesToNoEndpoint_LoggingOff_AllocateNothingPerMessage()
    {
        using var loop = CallerPolled();
        var sender = loop.Remote.CreateEndpoint(0x400);
        var payload = new byte[16];

        void Once()
        {
            if (!sender.TrySendTo(0x777, payload))
                throw new InvalidOperationException("try-send failed in steady state");
            loop.Remote.Poll();
            loop.Host.Poll();
        }

        var allocated = ThreadAllocation.Measure(200, 2_000, Once);
        allocated.AssertNone();
        Assert.Equal(200 + 3 * 2_000, loop.Host.Counters.Dropped);
    }
}
