using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Host and remote devices in this process, each on its own dispatcher thread pinned to its own CPU,
/// over one anonymous shared region with eventfd doorbells. The wait strategy is the devices' own
/// (<see cref="RpmsgDeviceOptions.WaitStrategy"/>), so the path measured is the one applications get,
/// minus the process boundary.
/// </summary>
public sealed class InProcessEchoScenario(int hostCpu, int remoteCpu) : IEchoScenario
{
    /// <summary>The name this scenario is registered under.</summary>
    public const string ScenarioName = "in-process";

    private const uint ServerAddress = 0x400;
    private const uint ClientAddress = 0x401;

    /// <inheritdoc />
    public string Name => ScenarioName;

    /// <inheritdoc />
    public string Description =>
        $"host and remote rpmsg devices in one process, dispatcher threads pinned to CPU {hostCpu} (host) and CPU {remoteCpu} (remote), eventfd doorbells, one anonymous shared region";

    private bool _warm;

    /// <inheritdoc />
    public EchoResult RunEcho(EchoRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        WarmUp(cancellationToken);
        return RunEchoCore(request, measureIdle: true, cancellationToken);
    }

    private EchoResult RunEchoCore(EchoRequest request, bool measureIdle, CancellationToken cancellationToken)
    {
        using var pair = RpmsgPair.Create(request.Wait, request.Wait, eventFd: true, name: "bench-echo");
        var server = new EchoServer(remoteCpu);
        var client = new EchoClient(ServerAddress, request.PayloadSize, request.Depth, request.Warmup, request.MinWarmupTime, request.Count, hostCpu);
        using var serverEndpoint = pair.Remote.CreateEndpoint(ServerAddress, server.OnMessage);
        using var clientEndpoint = pair.Host.CreateEndpoint(ClientAddress, client.OnReply);
        pair.Start();
        int[] idle = measureIdle ? [Environment.ProcessId] : [];
        return EchoRuns.Complete(client, clientEndpoint, ServerAddress, request, idle, () => $"host: {pair.Host.Dump()}\nremote: {pair.Remote.Dump()}", cancellationToken);
    }

    /// <inheritdoc />
    public StreamResult RunStream(StreamRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        WarmUp(cancellationToken);
        // The host never receives in this run, so its dispatcher waits on interrupts and stays off the sender's CPU.
        using var pair = RpmsgPair.Create(RpmsgWaitStrategy.Interrupt, request.Wait, eventFd: true, name: "bench-stream");
        var sink = new StreamSink(remoteCpu);
        using var sinkEndpoint = pair.Remote.CreateEndpoint(ServerAddress, sink.OnMessage);
        using var senderEndpoint = pair.Host.CreateEndpoint(ClientAddress);
        pair.Start();
        var payload = new byte[request.PayloadSize];
        return EchoRuns.Stream(request, hostCpu, (count, stamps) =>
        {
            SendBurst(senderEndpoint, sink, payload, count, stamps, request.Label, cancellationToken);
            return sink.CompletedAt;
        }, () => $"{sink.Received} received\nhost: {pair.Host.Dump()}\nremote: {pair.Remote.Dump()}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Every run owns and disposes its own devices; nothing is held between runs.
    }

    /// <summary>
    /// Once per scenario: half a second of echoes in every wait strategy, so that the first measured
    /// case runs tiered-up (fully optimised) code like the later ones, not the quick JIT's.
    /// </summary>
    private void WarmUp(CancellationToken cancellationToken)
    {
        if (_warm)
            return;
        _warm = true;
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        do
        {
            foreach (var wait in new[] { RpmsgWaitStrategy.BusyPoll, RpmsgWaitStrategy.Hybrid, RpmsgWaitStrategy.Interrupt })
                RunEchoCore(new EchoRequest(64, wait, wait == RpmsgWaitStrategy.Interrupt ? 200 : 2_000, 4, 0), measureIdle: false, cancellationToken);
        }
        while (Stopwatch.GetTimestamp() < until);
    }

    private static void SendBurst(RpmsgEndpoint endpoint, StreamSink sink, byte[] payload, int count, long[]? stamps, string label, CancellationToken cancellationToken)
    {
        sink.Expect(count);
        EchoRuns.SendAll(endpoint, ServerAddress, payload, count, cancellationToken, stamps);
        var bound = EchoRuns.RunBound(count);
        if (!sink.WaitDone(bound, cancellationToken))
            throw new TimeoutException($"stream {label}: {count} messages not all received within {bound.TotalSeconds:F0} s");
    }
}
