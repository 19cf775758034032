using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>A user-path case's allocation figure: the block that allocated least (the tests' best of three rounds).</summary>
public sealed class UserPathTallyTests
{
    [Fact]
    public void Allocated_AOneOffInOneBlock_IsNotTheCasesFigure()
    {
        var tally = new UserPathTally(UserPath.Pipe, RpmsgWaitStrategy.Hybrid, 64);

        tally.Allocated(0.05);
        tally.Allocated(5.2); // 26 KB once: a thread-pool thread starting in the process, say
        tally.Allocated(0.03);
        tally.Allocated(0.04);

        Assert.Equal(0.03, tally.AllocatedBytesPerMessage, 6);
    }

    [Fact]
    public void Allocated_EveryBlockAllocating_IsTheCasesFigure()
    {
        var tally = new UserPathTally(UserPath.ReceiveAsync, RpmsgWaitStrategy.Interrupt, 64);

        foreach (double perMessage in new[] { 24.1, 24.0, 26.5 })
            tally.Allocated(perMessage);

        Assert.Equal(24.0, tally.AllocatedBytesPerMessage, 6);
        Assert.Equal(24.0, tally.Result(probe: null).AllocatedBytesPerMessage, 6);
    }
}
