using VirtioRpmsg.Rpmsg;

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

        void Iterate(int n)
        {
            for (int i = 0; i < n; i++)
            {
                if (!sender.TrySendOffChannel(0x500, 0x400, payload))
                    throw new InvalidOperationException("try-send failed in steady state");
                loop.Remote.Poll();
                loop.Host.Poll();
            }
        }

        Iterate(2_000); // warm up: JIT, tiering, first-touch of every buffer
        long before = GC.GetAllocatedBytesForCurrentThread();
        Iterate(10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(12_000 * 64, received);
    }
}
