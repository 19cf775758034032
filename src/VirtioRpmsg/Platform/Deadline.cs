using System.Diagnostics;

namespace VirtioRpmsg.Platform;

/// <summary>
/// A point in monotonic time after which a wait gives up; "never" for <see cref="Timeout.InfiniteTimeSpan"/>.
/// The one deadline type of the library and its tools: a wait in several steps passes one deadline
/// along instead of subtracting elapsed time from a timeout.
/// </summary>
/// <remarks><c>default(Deadline)</c> is already expired.</remarks>
public readonly struct Deadline
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
    /// timeout other than <see cref="Timeout.InfiniteTimeSpan"/> is already expired (for a remaining time handed on;
    /// the rpmsg send and receive calls refuse a negative timeout of the caller's before they make a deadline).</summary>
    /// <param name="timeout">How long from now; <see cref="Timeout.InfiniteTimeSpan"/> for never.</param>
    public static Deadline Within(TimeSpan timeout) =>
        timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan ? new Deadline(Stopwatch.GetTimestamp()) : From(timeout, nameof(timeout));

    /// <summary>The deadline in <see cref="Stopwatch"/> ticks; long.MaxValue when infinite.</summary>
    internal long Timestamp => _end;

    /// <summary>True when the deadline never passes.</summary>
    public bool IsInfinite => _end == Never;

    /// <summary>True once the deadline has passed.</summary>
    public bool IsExpired => _end != Never && Stopwatch.GetTimestamp() >= _end;

    /// <summary>Time left: <see cref="Timeout.InfiniteTimeSpan"/> for infinite, <see cref="TimeSpan.Zero"/> when expired,
    /// so it can be handed on to any call that takes a timeout.</summary>
    public TimeSpan Remaining
    {
        get
        {
            if (_end == Never)
                return Timeout.InfiniteTimeSpan;
            long left = _end - Stopwatch.GetTimestamp();
            return left <= 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, left);
        }
    }

    /// <summary>Milliseconds left for poll(): -1 for infinite, 0 when expired, rounded up so a wait never ends early.</summary>
    public int RemainingMilliseconds
    {
        get
        {
            if (_end == Never)
                return -1;
            return MillisecondsUntil(_end, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Milliseconds from <paramref name="now"/> until <paramref name="end"/> (Stopwatch ticks), rounded up so a
    /// wait never ends early: 0 when passed, at most int.MaxValue (a finite end never becomes an infinite or negative wait).</summary>
    internal static int MillisecondsUntil(long end, long now)
    {
        long left = end - now;
        if (left <= 0)
            return 0;
        if (left > (long.MaxValue - Stopwatch.Frequency) / 1000)
            return int.MaxValue; // the rounding below would overflow; this is months away anyway
        long ms = (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency;
        return ms > int.MaxValue ? int.MaxValue : (int)ms;
    }

    /// <summary>The smaller of the time left and <paramref name="cap"/> milliseconds (never -1).</summary>
    /// <param name="cap">The longest slice wanted, in milliseconds.</param>
    public int RemainingMillisecondsCappedAt(int cap)
    {
        int left = RemainingMilliseconds;
        return left < 0 || left > cap ? cap : left;
    }
}
