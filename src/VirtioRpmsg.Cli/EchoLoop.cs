using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Cli;

/// <summary>Round trips against an echo channel, one at a time, every echo checked (demo and ping).</summary>
internal static class EchoLoop
{
    /// <summary>A histogram of round-trip times in <see cref="Stopwatch"/> ticks, up to a minute.</summary>
    public static LongHistogram NewHistogram() => new(Stopwatch.Frequency * 60, 3);

    /// <summary>
    /// Sends <paramref name="count"/> messages of <paramref name="size"/> bytes (content different per message),
    /// checks each echo (content and source) and records the round trip; <paramref name="progress"/> gets the
    /// number done after each one. Returns the number verified (all, or it throws a <see cref="CliFailure"/>).
    /// </summary>
    public static int Run(RpmsgChannel channel, int count, int size, LongHistogram histogram, Action<int>? progress, CancellationToken ct) =>
        Run(new Exchange(channel, size), count, histogram, progress, ct);

    /// <inheritdoc cref="Run(RpmsgChannel, int, int, LongHistogram, Action{int}?, CancellationToken)"/>
    public static int Run(Exchange exchange, int count, LongHistogram histogram, Action<int>? progress, CancellationToken ct)
    {
        long highest = histogram.HighestTrackableValue;
        for (int i = 0; i < count; i++)
        {
            long elapsed = exchange.RoundTrip(ct);
            histogram.RecordValue(Math.Min(elapsed, highest));
            progress?.Invoke(i + 1);
        }
        return count;
    }

    /// <summary>
    /// Round trips like <see cref="Run(Exchange, int, LongHistogram, Action{int}?, CancellationToken)"/>, each checked but
    /// none recorded, until <paramref name="minTime"/> has passed and the runtime has compiled nothing for a while (at
    /// most a few seconds more; the harness's rule, <see cref="Harness.Warmup"/>). Returns the round trips made.
    /// </summary>
    /// <remarks>
    /// A .NET process starts on unoptimized code: a hybrid ping of 1,000 round trips measured mostly that (4.7-4.8 us
    /// against 1.3 us steady), and one of 200,000 still read 2.2 us (docs/benchmarks-notes.md, sixteenth round).
    /// </remarks>
    public static int WarmUp(Exchange exchange, TimeSpan minTime, CancellationToken ct)
    {
        if (minTime <= TimeSpan.Zero)
            return 0;
        var warmup = new Harness.Warmup(WarmupLeast, minTime, Stopwatch.GetTimestamp());
        exchange.BeginPhase("warm-up ");
        int done = 0;
        do
        {
            exchange.RoundTrip(ct);
            done++;
        }
        while (!warmup.IsOver(done, Stopwatch.GetTimestamp()));
        exchange.BeginPhase("");
        return done;
    }

    /// <summary>The fewest round trips a warm-up makes, however short its time.</summary>
    public const int WarmupLeast = 100;

    /// <summary>
    /// One channel's echo round trips, one at a time: each message's content differs, each echo's content and source
    /// are checked. Holds its buffers, so a round trip allocates nothing.
    /// </summary>
    public sealed class Exchange
    {
        private readonly RpmsgChannel _channel;
        private readonly RpmsgEndpoint _endpoint;
        private readonly bool _callerPolls;
        private readonly TimeSpan _timeout = HostLink.StepTimeout;
        private readonly byte[] _payload;
        private readonly byte[] _echo;
        private RpmsgReceiveResult _received;
        private int _sequence;
        private int _phaseStart;
        private string _phase = "";

        public Exchange(RpmsgChannel channel, int size)
        {
            _channel = channel;
            _endpoint = channel.Endpoint;
            _callerPolls = HostLink.CallerPolls(channel.Device);
            _payload = new byte[size];
            _echo = new byte[_endpoint.MaxPayload];
        }

        /// <summary>Round trips made so far (warm-up included).</summary>
        public int Sequence => _sequence;

        /// <summary>From now on a failure names its message as <paramref name="name"/> "message N", N counted from here.</summary>
        public void BeginPhase(string name)
        {
            _phase = name;
            _phaseStart = _sequence;
        }

        /// <summary>Sends the next message and waits for its echo; returns the round trip in Stopwatch ticks.</summary>
        public long RoundTrip(CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            // Content by the whole run's count (no echo of an earlier phase can pass for this one); failures by the phase's.
            Fill(_payload, _sequence);
            int i = _sequence - _phaseStart;
            long start = Stopwatch.GetTimestamp();
            bool arrived;
            try
            {
                _endpoint.Send(_payload, _timeout, ct);
                arrived = _callerPolls
                    ? HostLink.PollUntil(_channel.Device, this, static x => x.TryTakeEcho(), _timeout, ct)
                    : _endpoint.TryReceive(_echo, _timeout, out _received, ct);
            }
            catch (Exception e) when (GoneAway(_channel, e))
            {
                // The remote destroyed the service (or the link went down) mid-run: a result to report, not a crash.
                throw new CliFailure($"{_phase}message {i}: the service '{_channel.Name}' went away after {_sequence} verified echoes ({Describe(e)}); {DeviceCounters(_channel.Device)}");
            }
            if (!arrived)
                throw new CliFailure($"{_phase}message {i}: no echo within {_timeout.TotalSeconds} s; {DeviceCounters(_channel.Device)}");
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (_received.Source != _channel.RemoteAddress)
                throw new CliFailure($"{_phase}message {i}: the echo came from 0x{_received.Source:X}, expected 0x{_channel.RemoteAddress:X}");
            if (_received.Length != _payload.Length || !_echo.AsSpan(0, _received.Length).SequenceEqual(_payload))
                throw new CliFailure($"{_phase}message {i}: the echo differs from what was sent ({_received.Length} bytes back for {_payload.Length} sent)");
            _sequence++;
            return elapsed;
        }

        private bool TryTakeEcho() => _endpoint.TryReceive(_echo, TimeSpan.Zero, out _received);
    }

    /// <summary>
    /// True when <paramref name="e"/> says the channel's endpoint or the device is gone (name-service destroy,
    /// channel removed, device stopped or broken): the exceptions a destroyed endpoint raises.
    /// </summary>
    public static bool GoneAway(RpmsgChannel channel, Exception e) =>
        e is RpmsgDeviceUnavailableException || (e is ObjectDisposedException && (channel.Endpoint.IsDestroyed || channel.Device.State != RpmsgDeviceState.Running));

    /// <inheritdoc cref="GoneAway(RpmsgChannel, Exception)"/>
    public static bool GoneAway(RpmsgEndpoint endpoint, Exception e) =>
        e is RpmsgDeviceUnavailableException || (e is ObjectDisposedException && (endpoint.IsDestroyed || endpoint.Device.State != RpmsgDeviceState.Running));

    /// <summary>Why the service is gone, in words: a destroyed endpoint, or the device's state.</summary>
    public static string Describe(Exception e) => e.Message.ReplaceLineEndings(" ");

    /// <summary>The device counters that explain a missing echo: a malformed message is dropped or counted as an error, never delivered.</summary>
    public static string DeviceCounters(RpmsgDevice device)
    {
        var c = device.Counters;
        return $"device counters: dropped={c.Dropped} errors={c.Errors} rx={c.RxMessages} tx={c.TxMessages}";
    }

    /// <summary>Content that differs per message and per byte, so a stale or shifted echo is caught.</summary>
    internal static void Fill(Span<byte> payload, int sequence)
    {
        for (int j = 0; j < payload.Length; j++)
            payload[j] = (byte)((sequence * 131) + (j * 7) + (sequence >> 8));
        if (payload.Length >= sizeof(int))
            BinaryPrimitives.WriteInt32LittleEndian(payload, sequence);
    }

    /// <summary>Stopwatch ticks as microseconds with one decimal.</summary>
    public static string Microseconds(long ticks) =>
        (ticks * 1_000_000.0 / Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture);
}
