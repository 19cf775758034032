using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The cases a report measures (issue 6): echo of 1, 64 and 496 bytes in each wait strategy,
/// a 16-deep pipelined busy-poll echo, and one-way streaming of 64 and 496 bytes.</summary>
public static class EchoPlan
{
    /// <summary>Payload sizes of the echo cases.</summary>
    public static IReadOnlyList<int> PayloadSizes { get; } = [1, 64, 496];

    /// <summary>Wait strategies of the echo cases.</summary>
    public static IReadOnlyList<RpmsgWaitStrategy> WaitStrategies { get; } = [RpmsgWaitStrategy.BusyPoll, RpmsgWaitStrategy.Hybrid, RpmsgWaitStrategy.Interrupt];

    /// <summary>Requests in flight in the pipelined case.</summary>
    public const int PipelineDepth = 16;

    /// <summary>Every echo request, in report order.</summary>
    public static IReadOnlyList<EchoRequest> EchoRequests(ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var requests = new List<EchoRequest>();
        foreach (var wait in WaitStrategies)
        {
            int count = wait == RpmsgWaitStrategy.Interrupt ? options.InterruptEchoCount : options.EchoCount;
            foreach (int size in PayloadSizes)
                requests.Add(new EchoRequest(size, wait, count, 1, options.Warmup) { MinWarmupTime = options.EchoWarmupTime });
        }
        requests.Add(new EchoRequest(64, RpmsgWaitStrategy.BusyPoll, options.PipelinedCount, PipelineDepth, options.Warmup) { MinWarmupTime = options.EchoWarmupTime });
        return requests;
    }

    /// <summary>Every streaming request, in report order.</summary>
    public static IReadOnlyList<StreamRequest> StreamRequests(ReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new StreamRequest(64, RpmsgWaitStrategy.BusyPoll, options.StreamCount), new StreamRequest(496, RpmsgWaitStrategy.BusyPoll, options.StreamCount)];
    }
}
