using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli;

/// <summary>
/// The steps the client subcommands (ping, send, listen, list, dump) share: open the host side (simulated
/// remote or <c>--platform</c>), start it, wait for the link, find an announced service. Every wait is bounded
/// by <see cref="StepTimeout"/> and fails with a one-line <see cref="CliFailure"/>.
/// </summary>
internal static class HostLink
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Opens and starts the host side and waits for the link. With <paramref name="wait"/> = busy-poll the calling
    /// thread polls the device itself (<see cref="RpmsgWaitStrategy.CallerPoll"/>): on two cores a spinning
    /// dispatcher thread would compete with the caller that waits for it.
    /// </summary>
    /// <param name="describe">Gets the set-up description and the link-up line; null prints nothing.</param>
    /// <param name="beforeStart">Runs on the host device before it starts (to subscribe to its events).</param>
    /// <param name="cpus">Pins the calling thread and the host's dispatcher to <c>Host</c>, and the simulated remote's process to <c>Remote</c>; null: unpinned.</param>
    public static HostSession Open(string command, FileInfo? platform, RpmsgWaitStrategy wait, SimulatedServices services, bool verbose, Action<string>? describe,
        CancellationToken ct, Action<RpmsgDevice>? beforeStart = null, (int Host, int Remote)? cpus = null)
    {
        ILogger log = verbose ? new StderrLogger("host") : NullLogger.Instance;
        bool callerPolls = wait == RpmsgWaitStrategy.BusyPoll;
        if (cpus is not null && platform is not null)
            throw new CliFailure("--cpus pins the simulated remote; with --platform pin the host with taskset and the remote is a processor of its own");
        var hostOptions = new RpmsgDeviceOptions { Name = "host", WaitStrategy = callerPolls ? RpmsgWaitStrategy.CallerPoll : wait, Logger = log, SendTimeout = StepTimeout, DispatcherCpu = cpus?.Host };
        var session = platform is null
            ? HostSession.StartSimulated(hostOptions, wait, services, $"vrpmsg-{command}-", ct)
            : HostSession.OpenPlatform(platform, hostOptions, ct);
        try
        {
            if (cpus is { } pin)
            {
                try
                {
                    CpuAffinity.PinProcess(session.Simulated!.ProcessId, pin.Remote);
                    CpuAffinity.PinCurrentThread(pin.Host);
                }
                catch (VirtioRpmsg.Interop.NativeCallException e)
                {
                    throw new CliFailure($"--cpus {pin.Host},{pin.Remote}: {e.Message}");
                }
                describe?.Invoke($"  pinned: this thread and the dispatcher to CPU {pin.Host}, the simulated remote to CPU {pin.Remote}");
            }
            foreach (var line in session.Description)
                describe?.Invoke("  " + line);
            var host = session.Host;
            beforeStart?.Invoke(host);
            var clock = Stopwatch.StartNew();
            host.Start();
            bool up = callerPolls ? PollUntil(host, () => host.State == RpmsgDeviceState.Running, StepTimeout, ct) : host.WaitForLinkUp(StepTimeout, ct);
            if (!up)
                throw new CliFailure($"the link did not come up within {StepTimeout.TotalSeconds} s");
            describe?.Invoke($"link up in {clock.Elapsed.TotalMilliseconds:0.0} ms: features 0x{host.NegotiatedFeatures:X8} ({FeatureNames(host.NegotiatedFeatures)}), wait strategy {WaitName(wait)}");
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>True when the host device is polled by the caller (no dispatcher thread).</summary>
    public static bool CallerPolls(RpmsgDevice host) => host.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll;

    /// <summary>Binds the remote's service <paramref name="name"/> (announced now or already) and returns its channel.</summary>
    public static RpmsgChannel BindService(RpmsgDevice host, string name, CancellationToken ct)
    {
        // Null: the link went down first. A remote that leaves before it announces ends the wait at once, with the
        // reason, instead of a "did not announce" a full step later.
        var ready = new TaskCompletionSource<RpmsgChannel?>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnState(RpmsgDevice _, RpmsgDeviceState state)
        {
            if (state is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
                ready.TrySetResult(null);
        }
        host.StateChanged += OnState;
        try
        {
            if (host.State is RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped)
                ready.TrySetResult(null);
            else
                // Announcements seen before the driver is registered are bound at registration.
                host.RegisterDriver(new RpmsgServiceDriver(name) { Probe = ch => ready.TrySetResult(ch) });
            bool settled = CallerPolls(host) ? PollUntil(host, () => ready.Task.IsCompleted, StepTimeout, ct) : ready.Task.Wait(StepTimeout, ct);
            if (!settled)
                throw new CliFailure($"the remote did not announce '{PrintableText.Of(name)}' within {StepTimeout.TotalSeconds} s");
            return ready.Task.Result ?? throw LinkDown(host, $"before the remote announced '{PrintableText.Of(name)}'");
        }
        finally
        {
            host.StateChanged -= OnState;
        }
    }

    /// <summary>The failure for a device that stopped or broke while a step waited: its state and why.</summary>
    public static CliFailure LinkDown(RpmsgDevice host, string when) =>
        new($"the link went down {when}: rpmsg device '{host.Name}' is {host.State.ToString().ToLowerInvariant()} ({PrintableText.Of(host.StateReason ?? "no reason given")})");

    /// <summary>
    /// Waits until <paramref name="done"/>, polling the device on this thread when it has no dispatcher; false after
    /// <paramref name="timeout"/>. See <see cref="PollUntil{TState}"/>.
    /// </summary>
    public static bool PollUntil(RpmsgDevice host, Func<bool> done, TimeSpan timeout, CancellationToken ct) =>
        PollUntil(host, done, static d => d(), timeout, ct);

    /// <summary>
    /// Waits until <paramref name="done"/>(<paramref name="state"/>), polling the device on this thread when it has
    /// no dispatcher; false after <paramref name="timeout"/>. The first looks that find nothing follow each other at
    /// once (in a ping the echo is under way), then each pauses briefly (the library's <see cref="RpmsgSpinPause"/>), and once
    /// <see cref="SpinBudget"/> passed without progress each sleeps a millisecond, so a long wait does not burn a core.
    /// A static <paramref name="done"/> with its state in <paramref name="state"/> allocates nothing per wait.
    /// </summary>
    public static bool PollUntil<TState>(RpmsgDevice host, TState state, Func<TState, bool> done, TimeSpan timeout, CancellationToken ct)
    {
        // Already done (a reply the last poll delivered): no clock read, as in the library's sends and receives.
        if (done(state))
            return true;
        var deadline = Deadline.Within(timeout);
        bool poll = CallerPolls(host);
        int looks = 0, empty = 0;
        long spinUntil = 0;
        do
        {
            ct.ThrowIfCancellationRequested();
            // The clock every 64 looks, whatever they found: messages for other endpoints must not hold off the timeout.
            if ((++looks & 63) == 0 && deadline.IsExpired)
                return false;
            if (poll && host.Poll() > 0)
            {
                empty = 0;
                continue;
            }
            // A pause of 20 spins here (about 0.9 us on the project's VM) used to make a busy-poll ping take twice
            // as long as the library's own busy-poll receive (docs/benchmarks-notes.md, sixteenth round).
            if (++empty <= RpmsgSpinPause.PauseFreeLooks)
                continue;
            if (deadline.IsExpired)
                return false;
            long now = Stopwatch.GetTimestamp();
            if (empty == RpmsgSpinPause.PauseFreeLooks + 1)
                spinUntil = now + (long)(SpinBudget.TotalSeconds * Stopwatch.Frequency);
            if (now < spinUntil)
                RpmsgSpinPause.After(empty);
            else
                Thread.Sleep(1);
        }
        while (!done(state));
        return true;
    }

    /// <summary>"NS, EVENT_IDX" for the negotiated feature bits.</summary>
    public static string FeatureNames(uint features)
    {
        var names = new List<string>();
        if ((features & RpmsgFeatures.NameService) != 0)
            names.Add("NS");
        if ((features & VirtioFeatures.EventIndex) != 0)
            names.Add("EVENT_IDX");
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    /// <summary>The --wait spelling of a strategy.</summary>
    public static string WaitName(RpmsgWaitStrategy wait) =>
        wait == RpmsgWaitStrategy.CallerPoll ? "caller-poll" : SimulatedRemoteChild.WaitArgument(wait);

    /// <summary>How long <see cref="PollUntil"/> spins without progress before it sleeps between checks.</summary>
    public static readonly TimeSpan SpinBudget = TimeSpan.FromMilliseconds(1);
}
