using System.Diagnostics;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>
/// The host side of an echo run, driven entirely from the host's receive callback so that the
/// dispatcher thread (pinned to one CPU on the first reply) both measures and sends: the first reply
/// (to the start message) sends <c>depth</c> requests; every later reply records one round trip and
/// sends the next request. Replies come back in order, so a ring of <c>depth</c> send times suffices. The first
/// replies are unrecorded (<see cref="Warmup"/>: at least <c>warmup</c> of them, for at least <c>minWarmupTime</c> from the
/// first reply, and with a minimum time until the runtime has stopped compiling). Nothing on this path allocates.
/// </summary>
internal sealed class EchoClient
{
    private static readonly TimeSpan s_sendTimeout = TimeSpan.FromSeconds(30);

    private readonly uint _destination;
    private readonly byte[] _payload;
    private readonly long[] _sendTimes;
    private readonly int _warmupCount;
    private readonly TimeSpan _minWarmupTime;
    private readonly int _count;
    private readonly int _cpu;
    private readonly LatencyRecorder _recorder = new();
    private readonly ManualResetEventSlim _done = new();
    private readonly long[] _windowStamps;
    // Decided when the warm-up ends; until then the run has no end.
    private int _warmup = int.MaxValue;
    private int _total = int.MaxValue;
    private Warmup? _warming; // from the first reply
    private int _windowStampCount;
    private bool _started;
    private int _sent;
    private int _received;
    private long _badReplies;

    public EchoClient(uint destination, int payloadSize, int depth, int warmup, TimeSpan minWarmupTime, int count, int cpu)
    {
        _destination = destination;
        _payload = new byte[payloadSize];
        for (int i = 0; i < _payload.Length; i++)
            _payload[i] = (byte)(i * 7 + 1);
        _sendTimes = new long[depth];
        _warmupCount = warmup;
        _minWarmupTime = minWarmupTime;
        _count = count;
        _cpu = cpu;
        _windowStamps = WindowRate.Stamps(count);
    }

    public LatencyRecorder Recorder => _recorder;

    public long MeasuredStart { get; private set; }

    public long MeasuredEnd { get; private set; }

    public long AllocatedAtStart { get; private set; }

    public long AllocatedAtEnd { get; private set; }

    public long BadReplies => Interlocked.Read(ref _badReplies);

    public int Received => Volatile.Read(ref _received);

    /// <summary>Requests sent (read once <see cref="WaitDone"/> returned true).</summary>
    public int Sent => _sent;

    /// <summary>Timestamps every <see cref="WindowRate.Window"/> measured replies (valid once <see cref="WaitDone"/> returned true).</summary>
    public long[] WindowStamps => _windowStamps;

    public int WindowStampCount => _windowStampCount;

    public ReadOnlySpan<byte> Payload => _payload;

    public bool WaitDone(TimeSpan timeout, CancellationToken cancellationToken) => _done.Wait(timeout, cancellationToken);

    public void OnReply(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload)
    {
        long now = Stopwatch.GetTimestamp();
        if (!_started)
        {
            _started = true;
            CpuAffinity.PinCurrentThread(_cpu);
            _warming = new Warmup(_warmupCount, _minWarmupTime, now);
            if (_warming.IsOver(0, now))
                MarkStart(Stopwatch.GetTimestamp(), 0);
            for (int i = 0; i < _sendTimes.Length && _sent < _total; i++)
                SendNext(endpoint);
            return;
        }
        if (!payload.SequenceEqual(_payload))
            Interlocked.Increment(ref _badReplies);
        int index = _received;
        if (index >= _warmup)
        {
            _recorder.RecordTicks(_sendTimes[index % _sendTimes.Length], now);
            if ((index + 1 - _warmup) % WindowRate.Window == 0 && _windowStampCount < _windowStamps.Length)
                _windowStamps[_windowStampCount++] = now;
        }
        Volatile.Write(ref _received, index + 1);
        if (_warmup == int.MaxValue && _warming!.IsOver(index + 1, now))
            MarkStart(now, index + 1);
        if (index + 1 == _total)
        {
            MeasuredEnd = now;
            AllocatedAtEnd = GC.GetTotalAllocatedBytes(precise: true);
            _done.Set();
            return;
        }
        if (_sent < _total)
            SendNext(endpoint);
    }

    private void MarkStart(long now, int warmup)
    {
        _warmup = warmup;
        _total = warmup + _count;
        MeasuredStart = now;
        _windowStamps[_windowStampCount++] = now;
        AllocatedAtStart = GC.GetTotalAllocatedBytes(precise: true);
    }

    private void SendNext(RpmsgEndpoint endpoint)
    {
        _sendTimes[_sent % _sendTimes.Length] = Stopwatch.GetTimestamp();
        if (!endpoint.TrySendTo(_destination, _payload))
            endpoint.SendTo(_destination, _payload, s_sendTimeout);
        _sent++;
    }
}
