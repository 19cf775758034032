using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Tests.Infrastructure;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// The process's deadline thread (<c>DeadlineWaker</c>) with long but finite timeouts: its sleep computation must not
/// overflow, or Monitor.Wait throws on that thread and the unhandled exception ends the process.
/// </summary>
public sealed class DeadlineWakerTests
{
    [Fact]
    public void EventFdDoorbell_WaitWithAYearTimeout_DoesNotKillTheProcess()
    {
        // In a child process: the failure is an unhandled exception on the library's deadline thread.
        using var child = PeerProcess.Start("far-deadline");
        child.Expect("READY", Bounded.Limit);
        var failure = Record.Exception(() =>
        {
            child.Expect("SURVIVED", Bounded.Limit);
            child.Expect("WOKE", Bounded.Limit);
        });
        Assert.True(failure is null, $"Wait(TimeSpan.FromDays(365)) on an EventFdDoorbell: {failure?.Message}");
    }

    [Theory]
    [InlineData(365.0)]
    [InlineData(107.0)]   // just past where (ticks * 1000) overflows at a 1 GHz Stopwatch
    [InlineData(10_000.0)]
    public void MillisecondsUntil_FarDeadline_IsTheLongestPositiveWait(double days)
    {
        long now = Stopwatch.GetTimestamp();
        long end = now + (long)(days * 86_400 * Stopwatch.Frequency);
        Assert.Equal(int.MaxValue, Deadline.MillisecondsUntil(end, now));
    }

    [Fact]
    public void MillisecondsUntil_RoundsUpAndIsZeroOncePassed()
    {
        long now = Stopwatch.GetTimestamp();
        Assert.Equal(1, Deadline.MillisecondsUntil(now + 1, now));
        Assert.Equal(0, Deadline.MillisecondsUntil(now, now));
        Assert.Equal(0, Deadline.MillisecondsUntil(now - 1, now));
    }

    [Fact]
    public void MillisecondsUntil_WholeWindowJustInsideTheFirstGuard_IsTheLongestPositiveWait()
    {
        // left * 1000 fits, but adding the rounding (Frequency - 1) did not: a negative wait, 106.75 days out.
        long first = (long.MaxValue - Stopwatch.Frequency + 1) / 1000 + 1;
        for (long left = first; left <= long.MaxValue / 1000; left += 997)
            Assert.Equal(int.MaxValue, Deadline.MillisecondsUntil(left, 0));
        Assert.Equal(int.MaxValue, Deadline.MillisecondsUntil(long.MaxValue / 1000, 0));
    }
}
