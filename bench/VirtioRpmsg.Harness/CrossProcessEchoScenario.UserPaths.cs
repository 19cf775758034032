using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

public sealed partial class CrossProcessEchoScenario
{
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
    /// The cases of a group of modes (<see cref="UserPathGroups"/>) take turns: each runs <see cref="UserPathRounds"/>
    /// blocks of a quarter of its round trips, path after path and the callback last, mode after mode, round after
    /// round, into one recorder per case. A ratio of two cases is then taken over the same stretch of time: on this VM
    /// the vCPU placement, the cost of a wake-up and the speed of a whole session move within seconds (an eventfd
    /// wake-up 13-30 us; a busy-poll session once ran a fifth faster than the hybrid one after it), and cases run one
    /// after the other compared different machines. The first block of each case has the whole warm-up; the later ones
    /// a hundredth of its count, to get going again.
    /// </para>
    /// </summary>
    public IReadOnlyList<UserPathResult> RunUserPaths(int count, int warmup, Action<UserPathResult>? progress = null, CancellationToken cancellationToken = default,
        Func<IReadOnlyList<BaselineResult>>? probe = null)
    {
        _session?.Dispose();
        _session = null;
        var results = new List<UserPathResult>();
        foreach (var group in UserPathGroups)
        {
            foreach (var result in RunGroup(group, count, warmup, probe, cancellationToken))
            {
                results.Add(result);
                progress?.Invoke(result);
            }
        }
        return results;
    }

    /// <summary>
    /// The modes whose cases take turns, in report order. Busy-poll and hybrid go together, since a target compares
    /// them; each over its own child, one idle while the other runs.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<RpmsgWaitStrategy>> UserPathGroups { get; } =
        [[RpmsgWaitStrategy.BusyPoll, RpmsgWaitStrategy.Hybrid], [RpmsgWaitStrategy.Interrupt], [RpmsgWaitStrategy.CallerPoll]];

    /// <summary>The wait modes of <see cref="RunUserPaths"/>, in report order.</summary>
    public static IReadOnlyList<RpmsgWaitStrategy> UserPathWaits { get; } = [.. UserPathGroups.SelectMany(g => g)];

    /// <summary>
    /// The paths a mode is measured on, the callback last. Without a dispatcher thread (CallerPoll) an application
    /// polls the device itself: a blocking Receive, a stream or a pipe would wait for a Poll nobody makes.
    /// </summary>
    public static IReadOnlyList<UserPath> UserPathsOf(RpmsgWaitStrategy wait) => wait == RpmsgWaitStrategy.CallerPoll
        ? [UserPath.Poll, UserPath.ZeroCopy, UserPath.Callback]
        : [UserPath.Receive, UserPath.ReceiveAsync, UserPath.Stream, UserPath.Pipe, UserPath.ZeroCopy, UserPath.Callback];

    /// <summary>
    /// How long a busy-poll session's dispatchers (both sides) go on spinning after its last message: the next mode's
    /// block waits this out, so that it does not share the cores with them.
    /// </summary>
    internal static TimeSpan BusyPollQuiet { get; } = new RpmsgDeviceOptions().BusyPollIdleTimeout + TimeSpan.FromMilliseconds(50);

    private IEnumerable<UserPathResult> RunGroup(IReadOnlyList<RpmsgWaitStrategy> group, int count, int warmup,
        Func<IReadOnlyList<BaselineResult>>? probe, CancellationToken cancellationToken)
    {
        var sessions = new CrossProcessSession?[group.Count];
        var tallies = new UserPathTally[group.Count][];
        try
        {
            for (int m = 0; m < group.Count; m++)
            {
                sessions[m] = StartSession(group[m], cancellationToken);
                UserPathRun.WarmUp(sessions[m]!.Host, sessions[m]!.EchoAddress, _warmup, cancellationToken);
                tallies[m] = [.. UserPathsOf(group[m]).Select(p => new UserPathTally(p, group[m], 64))];
            }
            // Interrupt cases are a quarter as long (each round trip is a cross-core wake-up); a group is of one kind.
            int n = group[0] == RpmsgWaitStrategy.Interrupt ? Math.Max(1, count / 4) : count;
            int w = group[0] == RpmsgWaitStrategy.Interrupt ? Math.Max(1, warmup / 4) : warmup;
            int rounds = Math.Min(UserPathRounds, n);
            for (int round = 0; round < rounds; round++)
            {
                bool first = round == 0;
                int blockCount = n / rounds + (round < n % rounds ? 1 : 0);
                for (int m = 0; m < group.Count; m++)
                {
                    var wait = group[m];
                    if (group.Count > 1 && (round > 0 || m > 0) && group[m == 0 ? group.Count - 1 : m - 1] == RpmsgWaitStrategy.BusyPoll)
                        Thread.Sleep(BusyPollQuiet);
                    foreach (var tally in tallies[m].Where(t => t.Failure is null))
                    {
                        if (first)
                            tally.Before = probe?.Invoke();
                        var block = new UserPathBlock(first ? w : Math.Max(1, w / 100),
                            first && tally.Path != UserPath.Callback ? UserPathRun.MinWarmup : TimeSpan.Zero, blockCount, tally.Recorder);
                        bool measureIdle = round == rounds - 1 && wait == RpmsgWaitStrategy.Hybrid && tally.Path == UserPath.Receive;
                        sessions[m] = RunBlock(sessions[m]!, wait, tally, block, measureIdle, cancellationToken);
                    }
                }
            }
            var results = new List<UserPathResult>();
            foreach (var modeTallies in tallies)
                results.AddRange(modeTallies.Select(t => t.Result(Probed(t.Before, probe))));
            return results;
        }
        finally
        {
            foreach (var session in sessions)
                session?.Dispose();
        }
    }

    private CrossProcessSession StartSession(RpmsgWaitStrategy wait, CancellationToken cancellationToken) =>
        CrossProcessSession.Start(wait, RemoteWait(wait), DispatcherPin(wait), _remoteCpu, _remoteCommand, cancellationToken);

    /// <summary>One block of a case into its tally; returns the session to go on with (a fresh one after a path failed).</summary>
    private CrossProcessSession RunBlock(CrossProcessSession session, RpmsgWaitStrategy wait, UserPathTally tally, UserPathBlock block, bool measureIdle, CancellationToken cancellationToken)
    {
        if (tally.Path == UserPath.Callback)
        {
            var echo = Echo(session, new EchoRequest(64, wait, block.Count, 1, block.Warmup) { MinWarmupTime = block.MinWarmup }, measureIdle: false, cancellationToken, into: block.Recorder);
            tally.Allocated(echo.AllocatedBytesPerMessage);
            return session;
        }
        try
        {
            var result = UserPathRun.Run(session.Host, session.EchoAddress, tally.Path, wait, 64, block, measureIdle, _hostCpu, cancellationToken);
            tally.Allocated(result.AllocatedBytesPerMessage);
            tally.IdleCpu ??= result.IdleCpu;
            return session;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // A path that stalls is a finding, not the end of the report; later cases get a fresh remote.
            tally.Failure = e.Message.Split('\n')[0];
            session.Dispose();
            return StartSession(wait, cancellationToken);
        }
    }

    private static PlacementProbe? Probed(IReadOnlyList<BaselineResult>? before, Func<IReadOnlyList<BaselineResult>>? probe) =>
        before is null || probe is null ? null : new PlacementProbe(before, probe());

    // The simulated remote busy-polls where the host polls itself: the remote's CPU stands for a processor of its own.
    private static RpmsgWaitStrategy RemoteWait(RpmsgWaitStrategy hostWait) =>
        hostWait == RpmsgWaitStrategy.CallerPoll ? RpmsgWaitStrategy.BusyPoll : hostWait;
}
