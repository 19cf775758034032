using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Tests.Bench;

/// <summary>
/// A new remote process echoes for <see cref="ScenarioContext.RemoteWarmup"/> before its first case (two seconds; half
/// a second in a quick run): half a second left its code part way up the runtime's tiers, which nothing on the host sees.
/// </summary>
public class RemoteWarmupTests
{
    [Fact]
    public void FullRun_WarmsANewRemoteForTwoSeconds_QuickRunForHalfASecond()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), new ScenarioContext(0, 1).RemoteWarmup);
        Assert.Equal(TimeSpan.FromMilliseconds(500), ScenarioContext.QuickRemoteWarmup);
    }

    [Fact]
    public void NegativeWarmup_IsRefusedNamingIt()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CrossProcessEchoScenario(0, 1, remoteWarmup: TimeSpan.FromSeconds(-1)));
        Assert.Equal("remoteWarmup", e.ParamName);
    }
}
