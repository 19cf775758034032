using System.Diagnostics;
using HdrHistogram;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Cli;

/// <summary>
/// Echo round trips with up to a window of messages in flight (<c>rpmsg ping --inflight</c>): what a pipelined sender
/// sees, and a burst of sends against a peer that returns buffers slowly. Every echo is checked in order (content and
/// source); each records the time from its own send to its echo. Sends never block while echoes are owed (a try, then
/// the next echo is taken), so a window larger than the ring's buffers only waits for them.
/// </summary>
internal sealed class PipelinedEcho
{
    /// <summary>The largest window: a queue endpoint holds 1,024 messages by default before it drops new ones.</summary>
    public const int MaxInFlight = 1024;

    private readonly RpmsgChannel _channel;
    private readonly RpmsgEndpoint _endpoint;
    private readonly bool _callerPolls;
    private readonly TimeSpan _timeout = HostLink.StepTimeout;
    private readonly byte[] _payload, _expected, _echo;
    private readonly long[] _sentAt;
    private RpmsgReceiveResult _received;
    private int _firstSequence, _sent;

    public PipelinedEcho(RpmsgChannel channel, int size, int inFlight)
    {
        if (inFlight is < 1 or > MaxInFlight)
            throw new ArgumentOutOfRangeException(nameof(inFlight), inFlight, $"the window is 1 to {MaxInFlight} messages");
        _channel = channel;
        _endpoint = channel.Endpoint;
        _callerPolls = HostLink.CallerPolls(channel.Device);
        _payload = new byte[size];
        _expected = new byte[size];
        _echo = new byte[_endpoint.MaxPayload];
        _sentAt = new long[inFlight];
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages, numbered from <paramref name="firstSequence"/> (after the warm-up's, so
    /// no earlier echo can pass for one of these), keeping up to the window in flight; records each round trip in
    /// <paramref name="histogram"/>. Returns the number verified (all, or it throws a <see cref="CliFailure"/>).
    /// </summary>
    public int Run(int firstSequence, int count, LongHistogram histogram, Action<int>? progress, CancellationToken ct)
    {
        _firstSequence = firstSequence;
        _sent = 0;
        long highest = histogram.HighestTrackableValue;
        int window = _sentAt.Length;
        for (int done = 0; done < count; done++)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                while (_sent < count && _sent - done < window && TrySendNext())
                {
                }
                // Nothing in flight and no buffer free (the peer echoed but has not given a buffer back yet): wait for one.
                if (_sent == done && !SendNextWaiting(ct))
                    throw new CliFailure($"message {done}: no tx buffer within {_timeout.TotalSeconds} s; {EchoLoop.DeviceCounters(_channel.Device)}");
                bool arrived = _callerPolls
                    ? HostLink.PollUntil(_channel.Device, this, static x => x.TryTakeEcho(), _timeout, ct)
                    : _endpoint.TryReceive(_echo, _timeout, out _received, ct);
                if (!arrived)
                    throw new CliFailure($"message {done}: no echo within {_timeout.TotalSeconds} s with {_sent - done} in flight; {EchoLoop.DeviceCounters(_channel.Device)}");
            }
            catch (Exception e) when (EchoLoop.GoneAway(_channel, e))
            {
                throw new CliFailure($"message {done}: the service '{_channel.Name}' went away after {done} verified echoes ({EchoLoop.Describe(e)}); {EchoLoop.DeviceCounters(_channel.Device)}");
            }
            long elapsed = Stopwatch.GetTimestamp() - _sentAt[done % window];
            Check(done);
            histogram.RecordValue(Math.Min(elapsed, highest));
            progress?.Invoke(done + 1);
        }
        return count;
    }

    private bool TrySendNext() => SendNext(wait: false, CancellationToken.None);

    private bool SendNextWaiting(CancellationToken ct) => _callerPolls
        ? HostLink.PollUntil(_channel.Device, this, static x => x.TrySendNext(), _timeout, ct)
        : SendNext(wait: true, ct);

    // The next message, timed from just before its send; false when a try found no tx buffer.
    private bool SendNext(bool wait, CancellationToken ct)
    {
        EchoLoop.Fill(_payload, _firstSequence + _sent);
        long start = Stopwatch.GetTimestamp();
        if (wait)
            _endpoint.Send(_payload, _timeout, ct);
        else if (!_endpoint.TrySend(_payload))
            return false;
        _sentAt[_sent % _sentAt.Length] = start;
        _sent++;
        return true;
    }

    private bool TryTakeEcho() => _endpoint.TryReceive(_echo, TimeSpan.Zero, out _received);

    // The echoes come back in the order sent (one channel, one ring): echo i must be message i.
    private void Check(int i)
    {
        if (_received.Source != _channel.RemoteAddress)
            throw new CliFailure($"message {i}: the echo came from 0x{_received.Source:X}, expected 0x{_channel.RemoteAddress:X}");
        EchoLoop.Fill(_expected, _firstSequence + i);
        if (_received.Length != _expected.Length || !_echo.AsSpan(0, _received.Length).SequenceEqual(_expected))
            throw new CliFailure($"message {i}: the echo differs from what was sent ({_received.Length} bytes back for {_expected.Length} sent; echoes must come back in order)");
    }
}
