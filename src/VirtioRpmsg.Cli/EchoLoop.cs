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
    public static int Run(RpmsgChannel channel, int count, int size, LongHistogram histogram, Action<int>? progress, CancellationToken ct)
    {
        var endpoint = channel.Endpoint;
        bool callerPolls = HostLink.CallerPolls(channel.Device);
        var timeout = HostLink.StepTimeout;
        byte[] payload = new byte[size];
        byte[] echo = new byte[endpoint.MaxPayload];
        long highest = histogram.HighestTrackableValue;
        for (int i = 0; i < count; i++)
        {
            ct.ThrowIfCancellationRequested();
            Fill(payload, i);
            long start = Stopwatch.GetTimestamp();
            RpmsgReceiveResult received = default;
            bool arrived;
            try
            {
                endpoint.Send(payload, timeout, ct);
                arrived = callerPolls
                    ? HostLink.PollUntil(channel.Device, () => endpoint.TryReceive(echo, TimeSpan.Zero, out received), timeout, ct)
                    : endpoint.TryReceive(echo, timeout, out received, ct);
            }
            catch (Exception e) when (GoneAway(channel, e))
            {
                // The remote destroyed the service (or the link went down) mid-run: a result to report, not a crash.
                throw new CliFailure($"message {i}: the service '{channel.Name}' went away after {i} verified echoes ({Describe(e)}); {DeviceCounters(channel.Device)}");
            }
            if (!arrived)
                throw new CliFailure($"message {i}: no echo within {timeout.TotalSeconds} s; {DeviceCounters(channel.Device)}");
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (received.Source != channel.RemoteAddress)
                throw new CliFailure($"message {i}: the echo came from 0x{received.Source:X}, expected 0x{channel.RemoteAddress:X}");
            if (received.Length != size || !echo.AsSpan(0, received.Length).SequenceEqual(payload))
                throw new CliFailure($"message {i}: the echo differs from what was sent ({received.Length} bytes back for {size} sent)");
            histogram.RecordValue(Math.Min(elapsed, highest));
            progress?.Invoke(i + 1);
        }
        return count;
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
    private static void Fill(Span<byte> payload, int sequence)
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
