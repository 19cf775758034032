using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A peer that returns our tx buffers without a kick (<see cref="IRpmsgTransport.TxReturnsUnsignalled"/>: RPMsg-Lite)
/// wakes no waiting sender, so the sender looks again on its own: after 1 ms (RPMsg-Lite's RL_MS_PER_INTERVAL), then,
/// while nothing comes back and nothing wakes it, after twice as long each time up to a cap; a wake-up (a signal, a
/// kick) or a new send starts again at 1 ms. Before, a sender stuck on a dead peer looked every 1 ms for as long as it
/// waited (about 2.7 % of a core per sender). The peer here is a caller-polled remote that the test never polls (so it
/// returns nothing) unless it says so, with its kicks for returned buffers muted; the host's IdleRecheckInterval is a
/// minute, so only the sender's own re-checks move it. The waits are counted through
/// <see cref="RpmsgTxPath.RecheckWaiting"/>, never timed.
/// </summary>
public sealed class RpmsgTxRecheckBackoffTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private const uint Sink = 0x401;
    private static readonly TimeSpan SchedulingAllowance = TimeSpan.FromSeconds(10);

    public enum Sender
    {
        Thread,
        Async,
        Callback,
        ZeroCopy,
    }

    [Theory]
    [InlineData(60_000, new[] { 1, 2, 4, 8, 16, 16, 16 })]
    [InlineData(5, new[] { 1, 2, 4, 5, 5, 5, 5 })] // never longer than IdleRecheckInterval
    [InlineData(1, new[] { 1, 1, 1, 1, 1, 1, 1 })]
    public void Backoff_DoublesWhileNothingWakes_UpToTheCapAndTheLimit(int limit, int[] expected)
    {
        var backoff = default(RpmsgRecheckBackoff);
        var steps = new List<int>();
        for (int i = 0; i < expected.Length; i++)
        {
            steps.Add(backoff.Next(limit));
            backoff.Waited(woken: false);
        }
        Assert.Equal(expected, steps);
    }

    [Fact]
    public void Backoff_AWakeUp_StartsAgainAt1Ms()
    {
        var backoff = default(RpmsgRecheckBackoff);
        for (int i = 0; i < 10; i++)
            backoff.Waited(woken: false);
        Assert.Equal(RpmsgRecheckBackoff.CapMilliseconds, backoff.Next(60_000));
        backoff.Waited(woken: true);
        Assert.Equal(1, backoff.Next(60_000));
        backoff.Waited(woken: false);
        Assert.Equal(2, backoff.Next(60_000));
    }

    [Theory]
    [InlineData(Sender.Thread)]
    [InlineData(Sender.Async)]
    [InlineData(Sender.Callback)]
    [InlineData(Sender.ZeroCopy)]
    public void StuckPeer_ReChecksBackOffFrom1MsToTheCap(Sender how)
    {
        using var stuck = StuckPeer.Create();
        var waits = stuck.Record(count: 8);

        using var cancel = new CancellationTokenSource();
        var run = stuck.StartWaitingSender(how, cancel.Token);

        Assert.True(waits.Enough.Wait(Bound), $"the sender re-checked only {waits.Count} times");
        cancel.Cancel();
        AssertCancelled(run);
        Assert.Equal([1, 2, 4, 8, 16, 16, 16, 16], waits.Slices[..8]);
    }

    [Fact]
    public void StuckPeer_ASignalBetweenReChecks_StartsTheBackOffAgain()
    {
        using var stuck = StuckPeer.Create();
        // The fifth wait's signal (as the dispatcher raises it when buffers come back) wakes the sender: it finds none
        // (another sender may have taken it), and looks again 1 ms later, not 32 ms.
        var waits = stuck.Record(count: 8, onWait: n => { if (n == 5) stuck.Loop.Host.Tx.Signal(); });

        using var cancel = new CancellationTokenSource();
        var run = stuck.StartWaitingSender(Sender.Thread, cancel.Token);

        Assert.True(waits.Enough.Wait(Bound), $"the sender re-checked only {waits.Count} times");
        cancel.Cancel();
        AssertCancelled(run);
        Assert.Equal([1, 2, 4, 8, 16, 1, 2, 4], waits.Slices[..8]);
    }

    [Fact]
    public void StuckPeer_BuffersComeBackWithoutAKick_TheNextWaitStartsAt1Ms()
    {
        using var stuck = StuckPeer.Create();
        // At the fifth wait the peer takes both messages and returns their buffers, without a kick: the sender finds
        // one at its next look; the next send takes the other; the one after that waits again from 1 ms.
        var waits = stuck.Record(count: 7, onWait: n => { if (n == 5) stuck.Loop.Remote.Poll(); });
        using var cancel = new CancellationTokenSource();

        var run = Task.Run(() =>
        {
            for (int i = 0; i < 3; i++)
                stuck.Endpoint.SendTo(Sink, "m"u8, Bound, cancel.Token);
        });

        Assert.True(waits.Enough.Wait(Bound), $"the sender re-checked only {waits.Count} times");
        cancel.Cancel();
        AssertCancelled(run);
        Assert.Equal([1, 2, 4, 8, 16, 1, 2], waits.Slices[..7]);
    }

    [Theory]
    [InlineData(Sender.Thread)]
    [InlineData(Sender.Async)]
    [InlineData(Sender.Callback)]
    [InlineData(Sender.ZeroCopy)]
    public async Task StuckPeer_SendTimeout_FiresOnTime_TheLastWaitClippedToTheDeadline(Sender how)
    {
        const int timeoutMs = 50;
        using var stuck = StuckPeer.Create(sendTimeout: TimeSpan.FromMilliseconds(timeoutMs));
        var waits = stuck.Record(count: int.MaxValue);

        // Timed on the sending thread, from just before the send (its deadline starts later, at the failed try) to its
        // failure; awaited, so that no thread-pool thread is blocked on it (an async send's re-checks are pool timers).
        var run = stuck.StartWaitingSender(how, CancellationToken.None, stuck.Loop.Host.Options.SendTimeout);
        var error = await Assert.ThrowsAsync<TimeoutException>(() => run);
        var elapsed = stuck.SendTime;

        Assert.Contains($"({timeoutMs} ms)", error.Message);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(timeoutMs), $"timed out early: {elapsed.TotalMilliseconds:F1} ms");
        // Exact, whatever the load: no wait was planned past the deadline (each was at most what was left of it), so the
        // send's own schedule ends at its deadline, not up to a back-off step (CapMilliseconds) after it.
        foreach (var (slice, left) in waits.All)
            Assert.True(slice <= left, $"a wait of {slice} ms with {left} ms left before the deadline; waits: {waits}");
        // The wall clock, loosely: a wait that ran its IdleRecheckInterval (a minute here) fails it; a thread not scheduled
        // at once on a loaded 2-core machine (seen: 20-150 ms late at a load average of 50) never does. The exact check is above.
        Assert.True(elapsed <= TimeSpan.FromMilliseconds(timeoutMs + RpmsgRecheckBackoff.CapMilliseconds) + SchedulingAllowance,
            $"timed out {elapsed.TotalMilliseconds:F1} ms after the send; waits: {waits}");
    }

    private static void AssertCancelled(Task run)
    {
        Assert.True(Task.WhenAny(run).Wait(Bound), "the cancelled sender did not end");
        Assert.ThrowsAny<OperationCanceledException>(() => run.GetAwaiter().GetResult());
    }

    /// <summary>A host out of tx buffers (2, both sent) over a remote that returns none until polled, with its kicks for returned buffers muted.</summary>
    private sealed class StuckPeer : IDisposable
    {
        private readonly MutedBell _muted;

        private StuckPeer(RpmsgLoopback loop, MutedBell muted)
        {
            Loop = loop;
            _muted = muted;
            Endpoint = loop.Host.CreateEndpoint(0x400, (ep, _, _) => Triggered?.Invoke(ep));
        }

        internal RpmsgLoopback Loop { get; }

        internal RpmsgEndpoint Endpoint { get; }

        /// <summary>Runs in the host's receive callback of the remote's "go" (Sender.Callback).</summary>
        private Action<RpmsgEndpoint>? Triggered { get; set; }

        internal static StuckPeer Create(TimeSpan? sendTimeout = null)
        {
            var muted = new MutedBell();
            var loop = RpmsgLoopback.Create(
                host: o =>
                {
                    o.IdleRecheckInterval = TimeSpan.FromMinutes(1);
                    o.SendTimeout = sendTimeout ?? TimeSpan.FromSeconds(30);
                },
                remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
                vringNum: 2, conventions: RpmsgPeerConventions.RpmsgLite, start: false,
                remoteDoorbell: d => new MutedBell.Bell(muted, d));
            loop.Start();
            muted.Muted = true;
            var stuck = new StuckPeer(loop, muted);
            Assert.True(loop.Host.Transport!.TxReturnsUnsignalled, "the host's transport returns tx buffers unsignalled (RPMsg-Lite)");
            // Both tx buffers out: the next send waits.
            stuck.Endpoint.SendTo(Sink, "a"u8, Bound);
            stuck.Endpoint.SendTo(Sink, "b"u8, Bound);
            return stuck;
        }

        internal Waits Record(int count, Action<int>? onWait = null)
        {
            var waits = new Waits(count, onWait);
            Loop.Host.Tx.RecheckWaiting = waits.Add;
            return waits;
        }

        /// <summary>A send that waits for a tx buffer, in the given way; the task ends with the send's outcome.</summary>
        internal Task StartWaitingSender(Sender how, CancellationToken token, TimeSpan? timeout = null)
        {
            var wait = timeout ?? Bound;
            switch (how)
            {
                case Sender.Thread:
                    return Task.Run(() => Timed(() => Endpoint.SendTo(Sink, "c"u8, wait, token)));
                case Sender.Async:
                    return Task.Run(async () =>
                    {
                        long start = Stopwatch.GetTimestamp();
                        try
                        {
                            await Endpoint.SendToAsync(Sink, new byte[] { 1 }, token);
                        }
                        finally
                        {
                            SendTime = Stopwatch.GetElapsedTime(start);
                        }
                    });
                case Sender.ZeroCopy:
                    return Task.Run(() => Timed(() =>
                    {
                        var buffer = Endpoint.GetTxBuffer(wait, token);
                        buffer.Dispose();
                    }));
                default:
                    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var kicked = new ManualResetEventSlim();
                    Triggered = ep =>
                    {
                        try
                        {
                            // The "go" kick may still be pending (the loop can take the message before its kick, or the
                            // kick can come after): once it is made, drain it, so that only the sender's own re-checks
                            // (and real wake-ups) end its waits. A stale kick woke the first wait once (slices 1, 1, ...).
                            Assert.True(kicked.Wait(Bound), "the remote's go was kicked");
                            Loop.HostDoorbell.Drain();
                            Timed(() => ep.SendTo(Sink, "c"u8, wait, token));
                            done.TrySetResult();
                        }
                        catch (Exception e)
                        {
                            done.TrySetException(e);
                        }
                    };
                    // The remote's "go" runs the host's callback, which sends (the remote has its own tx buffers).
                    var go = Loop.Remote.CreateEndpoint(0x402);
                    go.SendTo(0x400, "go"u8);
                    kicked.Set();
                    return done.Task;
            }
        }

        /// <summary>How long the last timed send took, on its own thread.</summary>
        internal TimeSpan SendTime { get; private set; }

        private void Timed(Action send)
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                send();
            }
            finally
            {
                SendTime = Stopwatch.GetElapsedTime(start);
            }
        }

        public void Dispose()
        {
            Loop.Host.Tx.RecheckWaiting = null;
            _muted.Muted = false;
            Loop.Dispose();
        }
    }

    /// <summary>The waits a sender made: each one's length and what was left of its deadline.</summary>
    private sealed class Waits(int count, Action<int>? onWait)
    {
        private readonly List<(int Slice, int Left)> _all = [];

        internal ManualResetEventSlim Enough { get; } = new();

        internal int Count
        {
            get
            {
                lock (_all)
                    return _all.Count;
            }
        }

        internal int[] Slices
        {
            get
            {
                lock (_all)
                    return _all.Select(w => w.Slice).ToArray();
            }
        }

        internal (int Slice, int Left)[] All
        {
            get
            {
                lock (_all)
                    return [.. _all];
            }
        }

        internal void Add(int slice, int left)
        {
            int n;
            lock (_all)
            {
                if (Enough.IsSet)
                    return;
                _all.Add((slice, left));
                n = _all.Count;
                if (n >= count)
                    Enough.Set();
            }
            onWait?.Invoke(n);
        }

        public override string ToString()
        {
            lock (_all)
                return string.Join(", ", _all.Select(w => $"{w.Slice}/{w.Left}"));
        }
    }

    /// <summary>Drops the remote's kicks for vring 1 (its returns of the host's tx buffers) while muted.</summary>
    private sealed class MutedBell
    {
        private volatile bool _muted;

        internal bool Muted { get => _muted; set => _muted = value; }

        internal sealed class Bell(MutedBell owner, IDoorbell inner) : IDoorbell
        {
            public bool Ring() => inner.Ring();

            public bool Ring(int which) => (which == 1 && owner.Muted) || inner.Ring(which);

            public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => inner.Wait(timeout, cancellationToken);

            public bool Drain() => inner.Drain();

            public void Dispose() => inner.Dispose();
        }
    }
}
