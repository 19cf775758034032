using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

public class MembarrierTests
{
    [Fact]
    public void MembarrierQuery_ThisKernel_ReportsAMaskAndTheFenceDecisionFollowsIt()
    {
        int mask = Native.MembarrierQuery();
        bool forced = Environment.GetEnvironmentVariable("VRPMSG_LEASE_FENCE") == "1";
        // The acquirer pays for a fence exactly when the kernel cannot give the unmapper a real
        // process-wide barrier (or the fallback is forced for testing).
        bool expected = forced || mask < 0 || (mask & Native.MembarrierPrivateExpedited) == 0;
        Assert.Equal(expected, SharedMemoryRegion.AcquirerNeedsFence);
        if (mask >= 0)
            Assert.NotEqual(0, mask & 1 /* MEMBARRIER_CMD_GLOBAL is always in a successful query */);
    }
}
