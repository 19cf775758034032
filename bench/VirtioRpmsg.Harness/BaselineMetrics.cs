namespace VirtioRpmsg.Harness;

/// <summary>The metric names the C baseline prints, and what each one is.</summary>
public static class BaselineMetrics
{
    /// <summary>Cache-line ping-pong between two processes on two cores: the busy-poll limit.</summary>
    public const string SpinCross = "spin_cross";

    /// <summary>eventfd ping-pong (blocking reads) between two processes on two cores: the interrupt-style limit.</summary>
    public const string EventFdCross = "eventfd_cross";

    /// <summary>eventfd ping-pong with both processes on one core.</summary>
    public const string EventFdSame = "eventfd_same";

    /// <summary>Every metric, in report order.</summary>
    public static IReadOnlyList<string> All { get; } = [SpinCross, EventFdCross, EventFdSame];

    /// <summary>A human description for the report.</summary>
    public static string Describe(string metric) => metric switch
    {
        SpinCross => "cache-line ping-pong, two processes, two cores (busy-poll limit)",
        EventFdCross => "eventfd ping-pong, two processes, two cores (interrupt limit)",
        EventFdSame => "eventfd ping-pong, two processes, one core",
        _ => metric,
    };
}
