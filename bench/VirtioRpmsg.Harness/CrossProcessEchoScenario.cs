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
public sealed class CrossProcessEchoScenario : IEchoScenario
{
    /// <summary>The name this scenario is registered under.</summary>
    public const string ScenarioName = "cross-process";

    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(30);

    private readonly int _hostCpu;
    private readonly int _remoteCpu;
    private readonly IReadOnlyList<string>? _remoteCommand;
    private CrossProcessSession? _session;

    /// <param name="hostCpu">CPU of the host's dispatcher or sender thread.</param>
    /// <param name="remoteCpu">CPU of every thread of the child.</param>
    /// <param name="remoteCommand">
    /// The command that runs the simulated remote's entry point (<c>SimulatedRemoteProcessOptions.RemoteCommand</c>);
    /// null: this program, which then hosts <c>SimulatedRemoteChild.TryRun</c>.
    /// </param>
    public CrossProcessEchoScenario(int hostCpu, int remoteCpu, IReadOnlyList<string>? remoteCommand = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hostCpu);
        ArgumentOutOfRangeException.ThrowIfNegative(remoteCpu);
        _hostCpu = hostCpu;
        _remoteCpu = remoteCpu;
        _remoteCommand = remoteCommand;
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
            // Half a second of echoes, so the measured case runs tiered-up code on both sides.
            session.Warm = true;
            long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
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

    /// <summary>How many blocks each user-path case is measured in (<see cref="RunUserPaths"/>).</summary>
    public const int UserPathRounds = 4;

    /// <summary>
    /// Every user-facing receive path (<see cref="UserPath"/>) in every wait mode (busy-poll, hybrid, interrupt, and
    /// caller-poll with its own paths: <see cref="UserPathsOf"/>), 64 B echoes one at a time, each mode over a fresh child.
    /// The app-thread paths run on an application thread pinned to the host's CPU (so is the dispatcher, in interrupt
    /// mode: <see cref="DispatcherPin"/>); the callback path is the harness's echo client, which pins the dispatcher (under
    /// caller-poll, the harness's thread that polls). Interrupt cases run a quarter of <paramref name="count"/> (each
    /// is a cross-core wake-up).
    /// <para>
    /// The cases of a mode take turns: each runs <see cref="UserPathRounds"/> blocks of a quarter of its round trips,
    /// path after path and the callback last, round after round, into one recorder per case. A ratio of two cases is
    /// then taken over the same stretch of time: on this VM the vCPU placement and the cost of a wake-up move within
    /// seconds (an eventfd wake-up 13-30 us), and cases run one after the other compared different machines. The
    /// first block of each case has the whole warm-up; the later ones a hundredth of its count, to get going again.
    /// </para>
    /// </summary>
    public IReadOnlyList<UserPathResult> RunUserPaths(int count, int warmup, Action<UserPathResult>? progress = null, CancellationToken cancellationToken = default,
        Func<IReadOnlyList<BaselineResult>>? probe = null)
    {
        var results = new List<UserPathResult>();
        foreach (var wait in UserPathWaits)
        {
            _session?.Dispose();
            _session = null;
            var session = Session(wait, RemoteWait(wait), DispatcherPin(wait), cancellationToken);
            int n = wait == RpmsgWaitStrategy.Interrupt ? Math.Max(1, count / 4) : count;
            int w = wait == RpmsgWaitStrategy.Interrupt ? Math.Max(1, warmup / 4) : warmup;
            UserPathRun.WarmUp(session.Host, session.EchoAddress, TimeSpan.FromMilliseconds(500), cancellationToken);
            UserPathTally[] tallies = [.. UserPathsOf(wait).Select(p => new UserPathTally(p, wait, 64))];
            int rounds = Math.Min(UserPathRounds, n);
            for (int round = 0; round < rounds; round++)
            {
                bool first = round == 0;
                int blockCount = n / rounds + (round < n % rounds ? 1 : 0);
                foreach (var tally in tallies.Where(t => t.Failure is null))
                {
                    if (first)
                        tally.Before = probe?.Invoke();
                    var block = new UserPathBlock(first ? w : Math.Max(1, w / 100),
                        first && tally.Path != UserPath.Callback ? UserPathRun.MinWarmup : TimeSpan.Zero, blockCount, tally.Recorder);
                    session = RunBlock(session, wait, tally, block, measureIdle: round == rounds - 1 && wait == RpmsgWaitStrategy.Hybrid && tally.Path == UserPath.Receive, cancellationToken);
                }
            }
            foreach (var tally in tallies)
            {
                var result = tally.Result(Probed(tally.Before, probe));
                results.Add(result);
                progress?.Invoke(result);
            }
        }
        _session?.Dispose();
        _session = null;
        return results;
    }

    /// <summary>One block of a case into its tally; returns the session to go on with (a fresh one after a path failed).</summary>
    private CrossProcessSession RunBlock(CrossProcessSession session, RpmsgWaitStrategy wait, UserPathTally tally, UserPathBlock block, bool measureIdle, CancellationToken cancellationToken)
    {
        if (tally.Path == UserPath.Callback)
        {
            var echo = Echo(session, new EchoRequest(64, wait, block.Count, 1, block.Warmup) { MinWarmupTime = block.MinWarmup }, measureIdle: false, cancellationToken, into: block.Recorder);
            tally.Allocated(echo.AllocatedBytesPerMessage, block.Count);
            return session;
        }
        try
        {
            var result = UserPathRun.Run(session.Host, session.EchoAddress, tally.Path, wait, 64, block, measureIdle, _hostCpu, cancellationToken);
            tally.Allocated(result.AllocatedBytesPerMessage, block.Count);
            tally.IdleCpu ??= result.IdleCpu;
            return session;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // A path that stalls is a finding, not the end of the report; later cases get a fresh remote.
            tally.Failure = e.Message.Split('\n')[0];
            _session?.Dispose();
            _session = null;
            return Session(wait, RemoteWait(wait), DispatcherPin(wait), cancellationToken);
        }
    }

    private static PlacementProbe? Probed(IReadOnlyList<BaselineResult>? before, Func<IReadOnlyList<BaselineResult>>? probe) =>
        before is null || probe is null ? null : new PlacementProbe(before, probe());

    /// <summary>The wait modes of <see cref="RunUserPaths"/>, in report order.</summary>
    public static IReadOnlyList<RpmsgWaitStrategy> UserPathWaits { get; } =
        [RpmsgWaitStrategy.BusyPoll, RpmsgWaitStrategy.Hybrid, RpmsgWaitStrategy.Interrupt, RpmsgWaitStrategy.CallerPoll];

    /// <summary>
    /// The paths a mode is measured on, the callback last. Without a dispatcher thread (CallerPoll) an application
    /// polls the device itself: a blocking Receive, a stream or a pipe would wait for a Poll nobody makes.
    /// </summary>
    public static IReadOnlyList<UserPath> UserPathsOf(RpmsgWaitStrategy wait) => wait == RpmsgWaitStrategy.CallerPoll
        ? [UserPath.Poll, UserPath.Callback]
        : [UserPath.Receive, UserPath.ReceiveAsync, UserPath.Stream, UserPath.Pipe, UserPath.Callback];

    // The simulated remote busy-polls where the host polls itself: the remote's CPU stands for a processor of its own.
    private static RpmsgWaitStrategy RemoteWait(RpmsgWaitStrategy hostWait) =>
        hostWait == RpmsgWaitStrategy.CallerPoll ? RpmsgWaitStrategy.BusyPoll : hostWait;

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
