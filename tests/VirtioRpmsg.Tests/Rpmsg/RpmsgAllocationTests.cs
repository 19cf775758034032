using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>The steady-state message path allocates nothing.</summary>
public class RpmsgAllocationTests
{
    [Fact]
    public void TrySendAndReceive_SteadyState_AllocatesZeroBytes()
    {
        // Both sides driven by this thread (CallerPoll), so every allocation on the path is counted here.
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        long received = 0;
        var sink = loop.Host.CreateEndpoint(0x500, (_, _, payload) => received += payload.Length);
        var echo = loop.Remote.CreateEndpoint(0x400, (ept, src, payload) => ept.TrySendTo(src, payload));
        var sender = loop.Host.CreateEndpoint(0x501);
        var payload = new byte[64];

        void Once()
        {
            if (!sender.TrySendOffChannel(0x500, 0x400, payload))
                throw new InvalidOperationException("try-send failed in steady state");
            loop.Remote.Poll();
            loop.Host.Poll();
        }

        // Warm-up (JIT, tiering, first-touch of every buffer), then the best of three measured rounds.
        var allocated = ThreadAllocation.Measure(2_000, 10_000, Once);
        allocated.AssertNone();
        Assert.Equal((2_000 + 3 * 10_000) * 64, received);
    }
}
