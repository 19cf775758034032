using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// Echo round trips through one user-facing receive path (<see cref="UserPath"/>), one at a time, every echo
/// checked: what applications write, as opposed to the harness's dispatcher-callback client. Runs on a fresh
/// application thread, pinned to the host's CPU.
/// </summary>
internal static class UserPathRun
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The least time each case warms up, whatever its warm-up count: the runtime compiles a method's optimized code
    /// only after a tiering delay of 100 ms and more (restarted by every new method compiled), then in stages; a
    /// count-based warm-up of a few tens of milliseconds measured a path's first case in a process partly in
    /// unoptimized code (the pipe's read, whose code nothing else had run, ran 2-3x slower in its first 60 ms).
    /// A warm-up with this minimum also lasts until the compiler is quiet (<see cref="JitSettle"/>): 400 ms alone
    /// still left the pipe's read partly unoptimized in some processes.
    /// </summary>
    internal static readonly TimeSpan MinWarmup = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// Runs <paramref name="block"/>: its warm-up unrecorded, then its count of round trips to <paramref name="echoAddress"/>
    /// recorded into its recorder, on an application thread pinned to <paramref name="hostCpu"/>: the two sides on different cores, as in every
    /// cross-process case (unpinned, the scheduler at times put the reader on the remote's core, where a spinning reader
    /// and the spinning remote took turns by time slices: the "stuck" hybrid cells of earlier reports).
    /// </summary>
    public static UserPathResult Run(RpmsgDevice host, uint echoAddress, UserPath path, RpmsgWaitStrategy wait, int payloadSize, UserPathBlock block, bool measureIdle, int hostCpu, CancellationToken cancellationToken)
    {
        UserPathResult? result = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                CpuAffinity.PinCurrentThread(hostCpu);
                if (path == UserPath.ZeroCopy)
                {
                    result = MeasureZeroCopy(host, echoAddress, wait, payloadSize, block, hostCpu, cancellationToken);
                    return;
                }
                using var endpoint = host.CreateEndpoint(RpmsgAddress.Any, echoAddress);
                result = path switch
                {
                    UserPath.Receive => Measure(path, wait, payloadSize, block, new BlockingEcho(endpoint, payloadSize).RoundTrip),
                    UserPath.ReceiveAsync => MeasureAsync(endpoint, wait, payloadSize, block, hostCpu, cancellationToken).GetAwaiter().GetResult(),
                    UserPath.Stream => Measure(path, wait, payloadSize, block, new StreamEcho(endpoint, payloadSize).RoundTrip),
                    UserPath.Pipe => MeasurePipe(endpoint, wait, payloadSize, block, hostCpu, cancellationToken),
                    UserPath.Poll => Measure(path, wait, payloadSize, block, new PolledEcho(host, endpoint, payloadSize).RoundTrip),
                    _ => throw new ArgumentOutOfRangeException(nameof(path), path, "the callback path is the harness's echo client"),
                };
                if (measureIdle)
                    result = result with { IdleCpu = IdleInReceive(endpoint, cancellationToken) };
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = $"bench-user-{path}" };
        thread.Start();
        var bound = EchoRuns.RunBound(block.Warmup + (long)block.Count) + block.MinWarmup + JitSettle.Limit + TimeSpan.FromSeconds(5)
            + (measureIdle ? JitSettle.Limit + TimeSpan.FromSeconds(2) : TimeSpan.Zero);
        if (!thread.Join(bound))
            throw new TimeoutException($"user path {path} {WaitNames.Of(wait)}: not done within {bound.TotalSeconds:F0} s\n{host.Dump()}");
        if (failure is not null)
            throw new InvalidOperationException($"user path {path} {WaitNames.Of(wait)} failed: {failure.Message}", failure);
        return result!;
    }

    /// <summary>
    /// Echoes through a blocking Receive, unrecorded, for <paramref name="duration"/>: a fresh remote process (every
    /// wait mode gets one) runs tier-0 code until the runtime's tiering delay (100 ms and more) has passed, and a quick
    /// run's first case is over within a few milliseconds, so without this the first path of each mode measured the JIT.
    /// </summary>
    public static void WarmUp(RpmsgDevice host, uint echoAddress, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var endpoint = host.CreateEndpoint(RpmsgAddress.Any, echoAddress);
        Action<int> roundTrip = host.Options.WaitStrategy == RpmsgWaitStrategy.CallerPoll
            ? new PolledEcho(host, endpoint, 64).RoundTrip
            : new BlockingEcho(endpoint, 64).RoundTrip;
        long until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        for (int i = 0; Stopwatch.GetTimestamp() < until; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            roundTrip(i);
        }
    }

    private static UserPathResult Measure(UserPath path, RpmsgWaitStrategy wait, int payloadSize, UserPathBlock block, Action<int> roundTrip)
    {
        var warming = new Warming(block);
        for (int i = 0; !warming.EndsBefore(i); i++)
            roundTrip(i);
        var recorder = block.Recorder;
        int count = block.Count;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            roundTrip(i);
            recorder.RecordTicks(start, Stopwatch.GetTimestamp());
        }
        double allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;
        return new UserPathResult(path, wait, payloadSize, recorder.Summarize(), allocated);
    }

    /// <summary>
    /// <see cref="ZeroCopyEcho"/> over a zero-copy endpoint: this thread sends the first request and waits (under
    /// CallerPoll it polls, and the handler runs inside its Poll calls).
    /// </summary>
    private static UserPathResult MeasureZeroCopy(RpmsgDevice host, uint echoAddress, RpmsgWaitStrategy wait, int payloadSize, UserPathBlock block, int hostCpu, CancellationToken cancellationToken)
    {
        var echo = new ZeroCopyEcho(Payload(payloadSize), block, hostCpu);
        using var endpoint = host.CreateZeroCopyEndpoint(RpmsgAddress.Any, echo.OnReply, echoAddress);
        echo.Start(endpoint);
        var bound = EchoRuns.RunBound(block.Warmup + (long)block.Count) + block.MinWarmup + JitSettle.Limit;
        bool done = wait == RpmsgWaitStrategy.CallerPoll
            ? EchoRuns.PollUntil(host, echo, static e => e.IsDone, bound)
            : echo.WaitDone(bound, cancellationToken);
        if (!done)
            throw new TimeoutException($"user path {UserPath.ZeroCopy} {WaitNames.Of(wait)}: not done within {bound.TotalSeconds:F0} s");
        echo.ThrowIfFailed();
        return new UserPathResult(UserPath.ZeroCopy, wait, payloadSize, block.Recorder.Summarize(), echo.AllocatedPerMessage);
    }

    private static UserPathResult MeasurePipe(RpmsgEndpoint endpoint, RpmsgWaitStrategy wait, int payloadSize, UserPathBlock block, int hostCpu, CancellationToken cancellationToken)
    {
        var pipe = new RpmsgDuplexPipe(endpoint);
        try
        {
            return MeasurePipeAsync(pipe, wait, payloadSize, block, hostCpu, cancellationToken).GetAwaiter().GetResult();
        }
        finally
        {
            pipe.DisposeAsync().AsTask().Wait(s_timeout);
        }
    }

    /// <summary>
    /// The host process's CPU while this thread waits in a blocking Receive with nothing arriving (after the spin
    /// budget and the compiler's settling, <see cref="EchoRuns.MeasureIdleCpu"/>); the end of the measurement cancels
    /// the Receive.
    /// </summary>
    private static double IdleInReceive(RpmsgEndpoint endpoint, CancellationToken cancellationToken)
    {
        var reply = new byte[endpoint.MaxPayload];
        double idle = 0;
        Exception? failed = null;
        using var measured = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var waiter = new Thread(() =>
        {
            try
            {
                idle = EchoRuns.MeasureIdleCpu([Environment.ProcessId], cancellationToken);
            }
            catch (Exception e)
            {
                failed = e; // reported by the caller's thread: an exception here would end the process
            }
            finally
            {
                measured.Cancel();
            }
        }) { IsBackground = true, Name = "bench-idle-measure" };
        waiter.Start();
        bool early = false;
        try
        {
            // Receives nothing while the other thread measures (it waits for the compiler first, JitSettle).
            early = endpoint.TryReceive(reply, JitSettle.Limit + TimeSpan.FromSeconds(2), out _, measured.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The measurement ended.
        }
        finally
        {
            waiter.Join(); // before the token source is disposed: the measuring thread cancels it last
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (failed is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        if (early)
            throw new InvalidDataException("idle measurement: a message arrived while nothing was sent");
        return idle;
    }

    /// <summary>A block's warm-up (<see cref="Warmup"/>: its count and time, and the compiler), then its recorded round trips.</summary>
    private struct Warming(UserPathBlock block)
    {
        private readonly Warmup _rule = new(block.Warmup, block.MinWarmup, Stopwatch.GetTimestamp());
        private bool _done;

        /// <summary>Round trips recorded so far.</summary>
        public int Recorded { get; private set; }

        /// <summary>True once, before the first recorded round trip <paramref name="i"/>.</summary>
        public bool EndsBefore(int i)
        {
            if (_done || !_rule.IsOver(i, Stopwatch.GetTimestamp()))
                return false;
            _done = true;
            return true;
        }

        /// <summary>True when the round trip that just ended is recorded.</summary>
        public bool Record()
        {
            if (!_done)
                return false;
            Recorded++;
            return true;
        }
    }

    /// <summary>
    /// Keeps an async loop on the host's CPU: after a receive that parked it resumes on a thread-pool thread, which
    /// nothing kept off the remote's CPU. There a spinning reader and the spinning remote took turns by time slices (the
    /// 75-200 us p99 of the hybrid async paths, in whichever run a park moved the loop there), which on a board, where
    /// the remote is another processor, cannot happen. Such a pool thread stays pinned to the host's CPU.
    /// </summary>
    private struct OnHostCpu(int cpu)
    {
        private int _thread = Environment.CurrentManagedThreadId; // the application thread, pinned already

        /// <summary>Pins the current thread when the loop moved to another one since the last call.</summary>
        public void Keep()
        {
            int thread = Environment.CurrentManagedThreadId;
            if (thread == _thread)
                return;
            CpuAffinity.PinCurrentThread(cpu);
            _thread = thread;
        }
    }

    private static void Check(ReadOnlySpan<byte> sent, ReadOnlySpan<byte> received, int i)
    {
        if (!received.SequenceEqual(sent))
            throw new InvalidDataException($"round trip {i}: the echo differs from the request ({received.Length} bytes back for {sent.Length})");
    }

    private static byte[] Payload(int size)
    {
        var payload = new byte[size];
        for (int i = 0; i < size; i++)
            payload[i] = (byte)(i * 7 + 1);
        return payload;
    }

    private sealed class BlockingEcho(RpmsgEndpoint endpoint, int size)
    {
        private readonly byte[] _payload = Payload(size);
        private readonly byte[] _reply = new byte[endpoint.MaxPayload];

        public void RoundTrip(int i)
        {
            if (!endpoint.TrySend(_payload))
                endpoint.Send(_payload, s_timeout);
            var r = endpoint.Receive(_reply, s_timeout);
            Check(_payload, _reply.AsSpan(0, r.Length), i);
        }
    }

    /// <summary>Send, then TryReceive and Poll in turn until the echo is there: a CallerPoll application's loop, no pause.</summary>
    private sealed class PolledEcho(RpmsgDevice host, RpmsgEndpoint endpoint, int size)
    {
        private readonly byte[] _payload = Payload(size);
        private readonly byte[] _reply = new byte[endpoint.MaxPayload];
        private RpmsgReceiveResult _received;

        public void RoundTrip(int i)
        {
            if (!endpoint.TrySend(_payload))
                endpoint.Send(_payload, s_timeout);
            if (!EchoRuns.PollUntil(host, this, static e => e.TryTake(), s_timeout))
                throw new TimeoutException($"no echo of round trip {i} within {s_timeout.TotalSeconds} s of polling");
            Check(_payload, _reply.AsSpan(0, _received.Length), i);
        }

        private bool TryTake() => endpoint.TryReceive(_reply, TimeSpan.Zero, out _received);
    }

    /// <summary>await SendAsync, await ReceiveAsync: the whole measured loop is one async method, so the harness adds no allocation per message.</summary>
    private static async Task<UserPathResult> MeasureAsync(RpmsgEndpoint endpoint, RpmsgWaitStrategy wait, int size, UserPathBlock block, int hostCpu, CancellationToken cancellationToken)
    {
        byte[] payload = Payload(size);
        byte[] reply = new byte[endpoint.MaxPayload];
        var recorder = block.Recorder;
        int count = block.Count;
        var warming = new Warming(block);
        var onHost = new OnHostCpu(hostCpu);
        long before = 0;
        for (int i = 0; warming.Recorded < count; i++)
        {
            if (warming.EndsBefore(i))
                before = GC.GetTotalAllocatedBytes(precise: true);
            onHost.Keep();
            long start = Stopwatch.GetTimestamp();
            await endpoint.SendAsync(payload, cancellationToken).ConfigureAwait(false);
            var r = await endpoint.ReceiveAsync(reply, cancellationToken).ConfigureAwait(false);
            if (warming.Record())
                recorder.RecordTicks(start, Stopwatch.GetTimestamp());
            Check(payload, reply.AsSpan(0, r.Length), i);
        }
        double allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;
        return new UserPathResult(UserPath.ReceiveAsync, wait, size, recorder.Summarize(), allocated);
    }

    private sealed class StreamEcho(RpmsgEndpoint endpoint, int size)
    {
        private readonly byte[] _payload = Payload(size);
        private readonly byte[] _reply = new byte[size];
        private readonly RpmsgStream _stream = new(endpoint);

        public void RoundTrip(int i)
        {
            _stream.Write(_payload);
            _stream.ReadExactly(_reply);
            Check(_payload, _reply, i);
        }
    }

    /// <summary>Output.WriteAsync (which flushes), then Input.ReadAsync until the echo is whole; one async method like <see cref="MeasureAsync"/>.</summary>
    private static async Task<UserPathResult> MeasurePipeAsync(RpmsgDuplexPipe pipe, RpmsgWaitStrategy wait, int size, UserPathBlock block, int hostCpu, CancellationToken cancellationToken)
    {
        byte[] payload = Payload(size);
        byte[] reply = new byte[size];
        var recorder = block.Recorder;
        int count = block.Count;
        var warming = new Warming(block);
        var onHost = new OnHostCpu(hostCpu);
        long before = 0;
        for (int i = 0; warming.Recorded < count; i++)
        {
            if (warming.EndsBefore(i))
                before = GC.GetTotalAllocatedBytes(precise: true);
            onHost.Keep();
            long start = Stopwatch.GetTimestamp();
            await pipe.Output.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var read = await pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (read.Buffer.Length >= size)
                {
                    var echo = read.Buffer.Slice(0, size);
                    echo.CopyTo(reply);
                    pipe.Input.AdvanceTo(echo.End);
                    break;
                }
                if (read.IsCompleted)
                    throw new EndOfStreamException($"round trip {i}: the pipe's input ended");
                pipe.Input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
            if (warming.Record())
                recorder.RecordTicks(start, Stopwatch.GetTimestamp());
            Check(payload, reply, i);
        }
        double allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;
        return new UserPathResult(UserPath.Pipe, wait, size, recorder.Summarize(), allocated);
    }
}
