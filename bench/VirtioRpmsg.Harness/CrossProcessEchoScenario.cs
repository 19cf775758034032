using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// The host in this process and the simulated remote (<c>rpmsg remote</c>) in a child process, over a
/// shared-memory file with eventfd doorbells passed over a Unix socket: the deployment shape of a real
/// remote processor, with the process boundary in the measured path. The child's threads are pinned to the
/// remote CPU; the host dispatcher (echo) or sender thread (stream) is pinned to the host CPU. The remote's
/// dispatcher waits with the request's strategy, so each strategy gets its own child (started on first use,
/// replaced when the strategy changes, all ended by <see cref="Dispose"/>).
/// </summary>
/// <remarks>
/// Streaming ends with one echo after the burst: the remote handles the ring in order on one dispatcher,
/// so that reply proves every earlier message reached the sink; the sink's count is then checked.
/// </remarks>
public sealed partial class CrossProcessEchoScenario : IEchoScenario
{
    /// <summary>The name this scenario is registered under.</summary>
    public const string ScenarioName = "cross-process";

    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(30);

    private readonly int _hostCpu;
    private readonly int _remoteCpu;
    private readonly IReadOnlyList<string>? _remoteCommand;
    private readonly TimeSpan _warmup;
    private CrossProcessSession? _session;

    /// <param name="hostCpu">CPU of the host's dispatcher or sender thread.</param>
    /// <param name="remoteCpu">CPU of every thread of the child.</param>
    /// <param name="remoteCommand">
    /// The command that runs the simulated remote's entry point (<c>SimulatedRemoteProcessOptions.RemoteCommand</c>);
    /// null: this program, which then hosts <c>SimulatedRemoteChild.TryRun</c>.
    /// </param>
    /// <param name="remoteWarmup">How long a new remote echoes before its first case (<see cref="ScenarioContext.RemoteWarmup"/>); null: that default.</param>
    public CrossProcessEchoScenario(int hostCpu, int remoteCpu, IReadOnlyList<string>? remoteCommand = null, TimeSpan? remoteWarmup = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hostCpu);
        ArgumentOutOfRangeException.ThrowIfNegative(remoteCpu);
        _hostCpu = hostCpu;
        _remoteCpu = remoteCpu;
        _remoteCommand = remoteCommand;
        _warmup = remoteWarmup ?? new ScenarioContext(hostCpu, remoteCpu).RemoteWarmup;
        ArgumentOutOfRangeException.ThrowIfLessThan(_warmup, TimeSpan.Zero, nameof(remoteWarmup));
    }

    /// <inheritdoc />
    public string Name => ScenarioName;

    /// <inheritdoc />
    public string Description =>
        $"host in this process (dispatcher or sender thread pinned to CPU {_hostCpu}), simulated remote in a child process (`rpmsg remote`, every thread pinned to CPU {_remoteCpu}), one shared-memory file, eventfd doorbells passed over a Unix socket";

    /// <inheritdoc />
    public EchoResult RunEcho(EchoRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        var session = Session(request.Wait, request.Wait, DispatcherPin(request.Wait), cancellationToken);
        if (!session.Warm)
        {
            // Echoes for the remote's warm-up, so the measured case runs tiered-up code on both sides: the case's own
            // warm-up waits for this process's compiler (JitSettle), but nothing here sees the remote's.
            session.Warm = true;
            long until = Stopwatch.GetTimestamp() + (long)(_warmup.TotalSeconds * Stopwatch.Frequency);
            do
                Echo(session, new EchoRequest(64, request.Wait, request.Wait == RpmsgWaitStrategy.Interrupt ? 200 : 2_000, 4, 0), measureIdle: false, cancellationToken);
            while (Stopwatch.GetTimestamp() < until);
        }
        return Echo(session, request, measureIdle: true, cancellationToken);
    }

    /// <summary>One echo case; <paramref name="into"/>, when given, also gets its recorded round trips.</summary>
    private EchoResult Echo(CrossProcessSession session, EchoRequest request, bool measureIdle, CancellationToken cancellationToken, LatencyRecorder? into = null)
    {
        var client = new EchoClient(session.EchoAddress, request.PayloadSize, request.Depth, request.Warmup, request.MinWarmupTime, request.Count, _hostCpu);
        using var endpoint = session.Host.CreateEndpoint(RpmsgAddress.Any, client.OnReply);
        int[] idle = measureIdle ? [Environment.ProcessId, session.RemoteProcessId] : [];
        var result = EchoRuns.Complete(client, endpoint, session.EchoAddress, request, idle, session.Diagnostics, cancellationToken);
        into?.Add(client.Recorder);
        return result;
    }

    /// <inheritdoc />
    public StreamResult RunStream(StreamRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        // The host only receives the one end-of-burst echo, so its dispatcher waits on interrupts and stays off the sender's CPU.
        var session = Session(RpmsgWaitStrategy.Interrupt, request.Wait, null, cancellationToken);
        using var endpoint = session.Host.CreateEndpoint();
        var payload = new byte[request.PayloadSize];
        long counted = session.SinkMessages();
        long sent = 0;
        var result = EchoRuns.Stream(request, _hostCpu, (count, stamps) =>
        {
            sent += count;
            return Burst(session, endpoint, payload, count, stamps, request.Label, cancellationToken);
        }, session.Diagnostics);
        counted = session.SinkMessages() - counted;
        if (counted != sent)
            throw new InvalidDataException($"stream {request.Label}: the remote's sink counted {counted} messages of {sent} sent");
        return result;
    }

    /// <summary>Sends <paramref name="count"/> messages to the sink, then one echo; returns when that echo is back.</summary>
    private static long Burst(CrossProcessSession session, RpmsgEndpoint endpoint, byte[] payload, int count, long[]? stamps, string label, CancellationToken cancellationToken)
    {
        EchoRuns.SendAll(endpoint, session.SinkAddress, payload, count, cancellationToken, stamps);
        endpoint.SendTo(session.EchoAddress, payload, s_sendTimeout, cancellationToken);
        var bound = EchoRuns.RunBound(count);
        Span<byte> reply = stackalloc byte[payload.Length];
        if (!endpoint.TryReceive(reply, bound, out _, cancellationToken))
            throw new TimeoutException($"stream {label}: the end-of-burst echo did not come back within {bound.TotalSeconds:F0} s\n{session.Diagnostics()}");
        return Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// Where the host dispatcher runs from its start. Interrupt: on the host's CPU, with the application thread it hands
    /// messages to (unpinned, it woke at times on the remote's CPU, which stands for a remote processor, and the hand-off
    /// became a cross-core wake-up). Busy-poll and hybrid: unpinned, since a reader there polls the ring itself and a
    /// dispatcher sharing its core would take time slices from it (the echo client pins it on its first reply).
    /// </summary>
    private int? DispatcherPin(RpmsgWaitStrategy wait) => wait == RpmsgWaitStrategy.Interrupt ? _hostCpu : null;

    /// <summary>The session with these wait strategies, replacing (ending) the current one if it differs.</summary>
    private CrossProcessSession Session(RpmsgWaitStrategy hostWait, RpmsgWaitStrategy remoteWait, int? dispatcherCpu, CancellationToken cancellationToken)
    {
        if (_session is { } current && current.HostWait == hostWait && current.RemoteWait == remoteWait && current.DispatcherCpu == dispatcherCpu)
            return current;
        _session?.Dispose();
        _session = null;
        _session = CrossProcessSession.Start(hostWait, remoteWait, dispatcherCpu, _remoteCpu, _remoteCommand, cancellationToken);
        return _session;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session?.Dispose();
        _session = null;
    }
}
