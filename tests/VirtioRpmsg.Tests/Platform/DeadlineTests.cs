using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public class DeadlineTests
{
    [Fact]
    public void Within_Infinite_NeverExpiresAndReportsMinusOne()
    {
        var deadline = Deadline.Within(Timeout.InfiniteTimeSpan);
        Assert.True(deadline.IsInfinite);
        Assert.False(deadline.IsExpired);
        Assert.Equal(-1, deadline.RemainingMilliseconds);
        Assert.Equal(500, deadline.RemainingMillisecondsCappedAt(500));
    }

    [Fact]
    public void Within_Negative_IsAlreadyExpired()
    {
        var deadline = Deadline.Within(TimeSpan.FromMilliseconds(-5));
        Assert.True(deadline.IsExpired);
        Assert.Equal(0, deadline.RemainingMilliseconds);
    }

    [Fact]
    public void Within_Zero_IsExpired()
    {
        Assert.Equal(0, Deadline.Within(TimeSpan.Zero).RemainingMilliseconds);
    }

    [Fact]
    public void Within_Positive_RemainingRoundsUpAndIsCapped()
    {
        var deadline = Deadline.Within(TimeSpan.FromMinutes(1));
        Assert.False(deadline.IsExpired);
        Assert.InRange(deadline.RemainingMilliseconds, 59_000, 60_000);
        Assert.Equal(100, deadline.RemainingMillisecondsCappedAt(100));
    }

    [Fact]
    public void From_Negative_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Deadline.From(TimeSpan.FromMilliseconds(-5), "timeout"));
    }

    [Fact]
    public void Remaining_IsInfiniteZeroOrTheTimeLeft()
    {
        Assert.Equal(Timeout.InfiniteTimeSpan, Deadline.Within(Timeout.InfiniteTimeSpan).Remaining);
        Assert.Equal(TimeSpan.Zero, Deadline.Within(TimeSpan.FromMilliseconds(-5)).Remaining);
        Assert.InRange(Deadline.Within(TimeSpan.FromMinutes(1)).Remaining, TimeSpan.FromSeconds(59), TimeSpan.FromMinutes(1));
        Assert.True(default(Deadline).IsExpired);
    }

    [Fact]
    public void RemainingMilliseconds_FarAway_DoesNotOverflow()
    {
        Assert.Equal(int.MaxValue, Deadline.Within(TimeSpan.FromDays(10_000)).RemainingMilliseconds);
    }
}
