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

    /// <summary>
    /// A 64-byte rpmsg echo in C over two split virtqueues in shared memory, eventfd kicks, two processes on two
    /// cores: what the protocol itself (ring entries, descriptors, header and payload crossing between the cores)
    /// adds to <see cref="EventFdCross"/>, with no stack around it.
    /// </summary>
    public const string RingEventFdCross = "ring_eventfd_cross";

    /// <summary>Every metric, in report order.</summary>
    public static IReadOnlyList<string> All { get; } = [SpinCross, EventFdCross, EventFdSame, RingEventFdCross];

    /// <summary>A human description for the report.</summary>
    public static string Describe(string metric) => metric switch
    {
        SpinCross => "cache-line ping-pong, two processes, two cores (busy-poll limit)",
        EventFdCross => "eventfd ping-pong, two processes, two cores (interrupt limit)",
        EventFdSame => "eventfd ping-pong, two processes, one core",
        RingEventFdCross => "64 B rpmsg echo over split virtqueues in C, eventfd kicks, two processes, two cores (the protocol's interrupt floor)",
        _ => metric,
    };
}
