using System.Diagnostics;

namespace VirtioRpmsg.Platform;

/// <summary>A point in monotonic time after which a wait gives up; "never" for an infinite timeout.</summary>
internal readonly struct Deadline
{
    private const long Never = long.MaxValue;
    private readonly long _end;

    private Deadline(long end) => _end = end;

    /// <summary>Starts a deadline <paramref name="timeout"/> from now. Negative timeouts other than
    /// <see cref="Timeout.InfiniteTimeSpan"/> are rejected, naming <paramref name="paramName"/>.</summary>
    internal static Deadline From(TimeSpan timeout, string paramName)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
            return new Deadline(Never);
        if (timeout < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(paramName, timeout, $"{paramName} must be zero or positive, or Timeout.InfiniteTimeSpan.");
        long now = Stopwatch.GetTimestamp();
        double span = timeout.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        // Anything that would overflow is as good as infinite.
        return span >= Never - now ? new Deadline(Never) : new Deadline(now + (long)span);
    }

    /// <summary>Starts a deadline <paramref name="timeout"/> from now, without argument checks: a negative
    /// timeout other than <see cref="Timeout.InfiniteTimeSpan"/> is already expired (the rpmsg send and
    /// receive calls have always treated it as "do not wait").</summary>
    internal static Deadline Within(TimeSpan timeout) =>
        timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan ? new Deadline(Stopwatch.GetTimestamp()) : From(timeout, nameof(timeout));

    internal bool IsInfinite => _end == Never;

    internal bool IsExpired => _end != Never && Stopwatch.GetTimestamp() >= _end;

    /// <summary>Milliseconds left for poll(): -1 for infinite, 0 when expired, rounded up so a wait never ends early.</summary>
    internal int RemainingMilliseconds
    {
        get
        {
            if (_end == Never)
                return -1;
            long left = _end - Stopwatch.GetTimestamp();
            if (left <= 0)
                return 0;
            long ms = (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency;
            return ms > int.MaxValue ? int.MaxValue : (int)ms;
        }
    }

    /// <summary>The smaller of the time left and <paramref name="cap"/> milliseconds.</summary>
    internal int RemainingMillisecondsCappedAt(int cap)
    {
        int left = RemainingMilliseconds;
        return left < 0 || left > cap ? cap : left;
    }
}
