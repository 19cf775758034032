using VirtioRpmsg.Chaos;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Chaos;

/// <summary>The chaos runner itself: it must report, not hide, a broken invariant.</summary>
public class ChaosDetectionTests
{
    [Fact]
    public void Run_EveryClass_ReportsWhatTheVictimSaid()
    {
        foreach (var fault in Enum.GetValues<ChaosFault>())
        {
            var outcome = ChaosScenario.Run(fault, 7);
            Assert.True(outcome.Passed, outcome.ToString());
            Assert.False(string.IsNullOrEmpty(outcome.Reported), $"{fault}: nothing reported");
        }
    }

    [Fact]
    public void Run_UsedIdOutOfRange_ReasonNamesQueueFieldAndValue()
    {
        var outcome = ChaosScenario.Run(ChaosFault.UsedIdOutOfRange, 11);

        Assert.True(outcome.Passed, outcome.ToString());
        Assert.Contains("Broken", outcome.Reported);
        Assert.Matches(@"vq[01]' is broken \(UsedIdOutOfRange\): used\.ring\[\d+\]\.id is \d+, num is 16", outcome.Reported);
    }

    [Fact]
    public void Run_StatusNeedsReset_HostBrokenWithStatusValue()
    {
        var outcome = ChaosScenario.Run(ChaosFault.StatusNeedsReset, 3);

        Assert.True(outcome.Passed, outcome.ToString());
        Assert.Matches("status byte is 0x[0-9A-F]{2}: the remote set DEVICE_NEEDS_RESET", outcome.Reported);
        Assert.Contains(RpmsgDeviceState.Broken.ToString(), outcome.Reported);
    }

    [Theory]
    [InlineData(ChaosFault.NoKicks)]
    [InlineData(ChaosFault.KickFlood)]
    public void Run_LostOrSpuriousDoorbells_NoMessageLostOrInvented(ChaosFault fault)
    {
        // The host runs its own dispatcher here: with every doorbell lost, only the ring re-check
        // (IdleRecheckInterval) can deliver; with thousands of empty ones, nothing may appear twice.
        for (int seed = 1; seed <= 20; seed++)
        {
            var outcome = ChaosScenario.Run(fault, seed);
            Assert.True(outcome.Passed, outcome.ToString());
        }
    }
}
