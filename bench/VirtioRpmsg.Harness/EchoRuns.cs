using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The parts of an echo or stream run every scenario shares: the bounded wait, the result, the send loop, idle CPU.</summary>
internal static class EchoRuns
{
    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Sends the start message from <paramref name="clientEndpoint"/> (whose handler is <paramref name="client"/>'s
    /// <see cref="EchoClient.OnReply"/>) to <paramref name="serverAddress"/>, waits (bounded) for every reply and
    /// turns the client's records into a result. <paramref name="idleProcessIds"/>: processes whose idle CPU is
    /// measured afterwards (hybrid only); empty measures none.
    /// </summary>
    public static EchoResult Complete(EchoClient client, RpmsgEndpoint clientEndpoint, uint serverAddress, EchoRequest request,
        IReadOnlyList<int> idleProcessIds, Func<string> diagnostics, CancellationToken cancellationToken)
    {
        // The start message: its reply pins the host dispatcher and sends the first requests from there.
        clientEndpoint.SendTo(serverAddress, client.Payload, s_sendTimeout, cancellationToken);
        var bound = RunBound(request.Warmup + (long)request.Count) + request.MinWarmupTime
            + (request.MinWarmupTime > TimeSpan.Zero ? JitSettle.Limit : TimeSpan.Zero);
        bool done = clientEndpoint.Device.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll
            ? PollUntilDone(client, clientEndpoint.Device, bound, cancellationToken)
            : client.WaitDone(bound, cancellationToken);
        if (!done)
            throw new TimeoutException($"echo {request.Label}: {client.Received} of {request.Warmup + request.Count} replies within {bound.TotalSeconds:F0} s\n{diagnostics()}");
        if (client.BadReplies != 0)
            throw new InvalidDataException($"echo {request.Label}: {client.BadReplies} replies differed from the request payload");
        double seconds = (client.MeasuredEnd - client.MeasuredStart) / (double)Stopwatch.Frequency;
        double allocated = (client.AllocatedAtEnd - client.AllocatedAtStart) / (double)request.Count;
        double? idle = idleProcessIds.Count > 0 && request.Wait == RpmsgWaitStrategy.Hybrid ? MeasureIdleCpu(idleProcessIds, cancellationToken) : null;
        return new EchoResult(
            request,
            client.Recorder.Summarize(),
            client.Recorder.PercentileCurve(),
            seconds > 0 ? request.Count / seconds : 0,
            allocated,
            idle,
            WindowRate.Median(client.WindowStamps, client.WindowStampCount));
    }

    /// <summary>
    /// A <see cref="RpmsgWaitStrategy.CallerPoll"/> host has no dispatcher thread: the client's callbacks run inside
    /// <c>Poll</c>, here called without a pause on a thread of its own (the client's first reply pins it to the host's
    /// CPU, as it pins a dispatcher) until the client is done or <paramref name="bound"/> has passed.
    /// </summary>
    private static bool PollUntilDone(EchoClient client, RpmsgDevice host, TimeSpan bound, CancellationToken cancellationToken)
    {
        bool done = false;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                done = PollUntil(host, client, c => c.WaitDone(TimeSpan.Zero, cancellationToken), bound);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "bench-caller-poll" };
        thread.Start();
        // The loop looks at its deadline itself; a Poll stuck in a callback's send still ends within its send timeout.
        if (!thread.Join(bound + s_sendTimeout + TimeSpan.FromSeconds(5)))
            return false;
        if (failure is OperationCanceledException canceled)
            throw canceled;
        if (failure is not null)
            throw new InvalidOperationException($"echo, caller-polled: {failure.Message}", failure);
        return done;
    }

    /// <summary>
    /// A caller-polled application's wait: <c>Poll</c> until <paramref name="done"/>(<paramref name="state"/>), without
    /// a pause (a busy-poll measurement); false once <paramref name="bound"/> has passed (the clock read every 1024 looks).
    /// </summary>
    public static bool PollUntil<TState>(RpmsgDevice host, TState state, Func<TState, bool> done, TimeSpan bound)
    {
        long end = 0;
        for (int looks = 1; !done(state); looks++)
        {
            host.Poll();
            if ((looks & 1023) != 0)
                continue;
            long now = Stopwatch.GetTimestamp();
            if (end == 0)
                end = now + (long)(bound.TotalSeconds * Stopwatch.Frequency);
            else if (now > end)
                return false;
        }
        return true;
    }

    /// <summary>
    /// Sends <paramref name="count"/> copies of <paramref name="payload"/> to <paramref name="destination"/> as fast
    /// as the ring allows: on a full ring it spins (busy-poll, never yielding) for up to <see cref="FullRingSpin"/>
    /// for the remote to return buffers, then blocks (bounded) in Send. The remote returns buffers in batches, so
    /// a full ring is the steady state of a stream; a short spin fell through to the blocking Send (a wake-up and
    /// an allocation per wait) every few dozen messages.
    /// </summary>
    public static void SendAll(RpmsgEndpoint endpoint, uint destination, byte[] payload, int count, CancellationToken cancellationToken, long[]? stamps = null)
    {
        for (int i = 0; i < count; i++)
        {
            // Every WindowRate.Window sends (WindowRate): the sender's pace is the remote's once the ring is full.
            if (stamps is not null && i % WindowRate.Window == 0 && i / WindowRate.Window < stamps.Length)
                stamps[i / WindowRate.Window] = Stopwatch.GetTimestamp();
            if (endpoint.TrySendTo(destination, payload))
                continue;
            long until = Stopwatch.GetTimestamp() + FullRingSpin;
            bool sent = false;
            while (!sent && Stopwatch.GetTimestamp() < until)
            {
                // A pause between tries keeps this core off the used-ring line the remote is writing.
                Thread.SpinWait(20);
                sent = endpoint.TrySendTo(destination, payload);
            }
            if (!sent)
                endpoint.SendTo(destination, payload, s_sendTimeout, cancellationToken);
        }
    }

    /// <summary>How long <see cref="SendAll"/> spins on a full ring before it blocks: 1 ms, in <see cref="Stopwatch"/> ticks.</summary>
    public static readonly long FullRingSpin = Stopwatch.Frequency / 1_000;

    /// <summary>Messages in one unmeasured warm-up burst before a measured stream burst (repeated for <see cref="StreamWarmupTime"/>).</summary>
    public static int StreamWarmup(StreamRequest request) => Math.Min(request.Count, 20_000);

    /// <summary>
    /// The least time the warm-up bursts take together: half a second, as for echo. 20,000 messages alone took
    /// about 20 ms, less than the runtime's tiering delay (100 ms, renewed while methods are still being compiled),
    /// so a quick run measured tier-0 code on both sides (0.3 M msg/s instead of about 1.8 M with tiering off).
    /// </summary>
    public static readonly long StreamWarmupTime = Stopwatch.Frequency / 2;

    /// <summary>
    /// Runs a stream measurement on a sender thread pinned to <paramref name="hostCpu"/>: warm-up bursts for at least
    /// <see cref="StreamWarmupTime"/> (JIT, tiering, first touch of every buffer), then the measured one. <paramref name="burst"/> sends that many messages and returns
    /// the <see cref="Stopwatch"/> timestamp at which the remote had them all. Bounded; a failure is rethrown here.
    /// </summary>
    public static StreamResult Stream(StreamRequest request, int hostCpu, Func<int, long[]?, long> burst, Func<string> diagnostics)
    {
        StreamResult? result = null;
        Exception? failure = null;
        var sender = new Thread(() =>
        {
            try
            {
                CpuAffinity.PinCurrentThread(hostCpu);
                long warmUntil = Stopwatch.GetTimestamp() + StreamWarmupTime;
                do
                    burst(StreamWarmup(request), null);
                while (Stopwatch.GetTimestamp() < warmUntil);
                var stamps = WindowRate.Stamps(request.Count);
                long before = GC.GetTotalAllocatedBytes(precise: true);
                long start = Stopwatch.GetTimestamp();
                long end = burst(request.Count, stamps);
                double allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)request.Count;
                double seconds = (end - start) / (double)Stopwatch.Frequency;
                double rate = seconds > 0 ? request.Count / seconds : 0;
                int windows = (request.Count + WindowRate.Window - 1) / WindowRate.Window;
                result = new StreamResult(request, rate, rate * request.PayloadSize / 1e6, allocated, WindowRate.Median(stamps, windows));
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "bench-stream-sender" };
        sender.Start();
        var bound = RunBound(request.Count + 20_000L) + TimeSpan.FromSeconds(5) + TimeSpan.FromTicks(StreamWarmupTime * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
        if (!sender.Join(bound))
            throw new TimeoutException($"stream {request.Label}: the sender did not finish within {bound.TotalSeconds:F0} s\n{diagnostics()}");
        if (failure is not null)
            throw new InvalidOperationException($"stream {request.Label} failed: {failure.Message}", failure);
        return result!;
    }

    /// <summary>A generous upper bound for a run: 30 s plus 1 ms per message (a round trip takes microseconds).</summary>
    public static TimeSpan RunBound(long messages) => TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(messages);

    /// <summary>CPU used by the given processes together over 300 ms of idleness, after the spin budget has long passed (1.0 = one core).</summary>
    public static double MeasureIdleCpu(IReadOnlyList<int> processIds, CancellationToken cancellationToken)
    {
        var processes = processIds.Select(Process.GetProcessById).ToArray();
        try
        {
            // Let the spin budget run out and background tier-up compilation of the run's methods settle: the end of a
            // run compiles new methods, and their tier-up ~100 ms later fell inside the measurement (3.4 % once).
            // At most a second: other work in the process (tests running beside a quick report) keeps the count moving.
            var settle = new JitSettle(JitSettle.CompiledMethods, JitSettle.Quiet, TimeSpan.FromSeconds(1));
            long waitEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5;
            while (!cancellationToken.IsCancellationRequested && (!settle.IsSettled(Stopwatch.GetTimestamp()) || Stopwatch.GetTimestamp() < waitEnd))
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(10));
            cancellationToken.ThrowIfCancellationRequested();
            var before = TotalCpu(processes);
            long start = Stopwatch.GetTimestamp();
            cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(300));
            var cpu = TotalCpu(processes) - before;
            return cpu.TotalSeconds / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            foreach (var p in processes)
                p.Dispose();
        }
    }

    private static TimeSpan TotalCpu(Process[] processes)
    {
        var total = TimeSpan.Zero;
        foreach (var p in processes)
        {
            p.Refresh();
            total += p.TotalProcessorTime;
        }
        return total;
    }
}
