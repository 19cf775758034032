using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg demo</c>, the README's main job: start the simulated remote in a child process, bind its echo
/// service through the name service, send messages one round trip at a time, check every echo, and print
/// what happened with round-trip latency percentiles. Cleans up the child and the shared-memory file on
/// every exit path (Ctrl+C included).
/// </summary>
internal static class DemoCommand
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var count = new Option<int>("--count", "-n") { Description = "Messages to send; every echo is checked.", DefaultValueFactory = _ => 1000 };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
                r.AddError("--count must be at least 1");
        });
        var size = new Option<int>("--size", "-s") { Description = "Payload bytes per message: 0 to the buffer size minus the 16-byte header (496 with the default buffers).", DefaultValueFactory = _ => 64 };
        size.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
                r.AddError("--size must not be negative");
        });
        var wait = CliOptions.Wait();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("demo", "Run the demo: a simulated remote in a child process announces an echo service; the host binds it, sends messages, checks the echoes and prints round-trip latency.")
        {
            count, size, wait, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("demo", v, ct => Run(parse.GetValue(count), parse.GetValue(size), CliOptions.ParseWait(parse.GetValue(wait)), parse.GetValue(platform), v, ct));
        });
        return command;
    }

    private static int Run(int count, int size, RpmsgWaitStrategy wait, FileInfo? platform, bool verbose, CancellationToken ct)
    {
        ILogger log = verbose ? new StderrLogger("host") : NullLogger.Instance;
        // Busy-poll on the host means this thread spins on the rings itself (CallerPoll): no hand-off to a
        // dispatcher thread, which on a 2-core machine would cost more than the poll saves.
        bool callerPolls = wait == RpmsgWaitStrategy.BusyPoll;
        var hostOptions = new RpmsgDeviceOptions { Name = "host", WaitStrategy = callerPolls ? RpmsgWaitStrategy.CallerPoll : wait, Logger = log, SendTimeout = StepTimeout };
        Console.WriteLine(platform is null ? "rpmsg demo: starting the simulated remote in a child process" : $"rpmsg demo: opening {platform.FullName}");
        using var session = platform is null
            ? HostSession.StartSimulated(hostOptions, wait, SimulatedServices.Echo, "vrpmsg-demo-", ct)
            : HostSession.OpenPlatform(platform, hostOptions, ct);
        foreach (var line in session.Description)
            Console.WriteLine("  " + line);
        var host = session.Host;
        if (size > host.MaxPayload)
            throw new CliFailure($"--size {size} exceeds the largest payload of one message ({host.MaxPayload} bytes)");

        var channelReady = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Probe = ch => channelReady.TrySetResult(ch) });
        var clock = Stopwatch.StartNew();
        host.Start();
        if (!host.WaitForLinkUp(StepTimeout, ct))
            throw new CliFailure($"the link did not come up within {StepTimeout.TotalSeconds} s");
        Console.WriteLine($"link up in {clock.Elapsed.TotalMilliseconds:0.0} ms: features 0x{host.NegotiatedFeatures:X8} ({FeatureNames(host.NegotiatedFeatures)}), wait strategy {WaitName(wait)}");
        bool announced = callerPolls ? PollUntil(host, () => channelReady.Task.IsCompleted, ct) : channelReady.Task.Wait(StepTimeout, ct);
        if (!announced)
            throw new CliFailure($"the remote did not announce '{SimulatedRemote.EchoServiceName}' within {StepTimeout.TotalSeconds} s");
        var channel = channelReady.Task.Result;
        Console.WriteLine($"channel '{channel.Name}' announced by the remote: local address 0x{channel.LocalAddress:X} -> remote address 0x{channel.RemoteAddress:X}");

        Console.WriteLine($"sending {count} messages of {size} bytes (different content each), one round trip at a time");
        var histogram = new LongHistogram(Stopwatch.Frequency * 60, 3);
        int verified = RoundTrips(channel, count, size, histogram, callerPolls, ct);
        Console.WriteLine($"verified {verified}/{count} echoes ({size} bytes each, content and source address checked)");
        Console.WriteLine("round-trip latency (us): " + string.Join("  ",
            new[] { ("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9) }
                .Select(p => $"{p.Item1} {Microseconds(histogram.GetValueAtPercentile(p.Item2))}")
                .Append($"max {Microseconds(histogram.GetMaxValue())}")));
        var c = host.Counters;
        Console.WriteLine($"host counters: tx {c.TxMessages}, rx {c.RxMessages}, tx-buffer waits {c.TxBufferWaits}, dropped {c.Dropped}, errors {c.Errors}");

        var simulated = session.Simulated;
        session.Dispose();
        if (simulated is not null)
        {
            string file = File.Exists(simulated.SharedMemoryPath) ? "still exists (not removed!)" : "removed";
            Console.WriteLine($"cleanup: remote exited (code {simulated.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "?"}), {simulated.SharedMemoryPath} {file}");
        }
        return verified == count ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>Busy-polls the device on this thread until <paramref name="done"/>; false after the step timeout.</summary>
    private static bool PollUntil(RpmsgDevice host, Func<bool> done, CancellationToken ct)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(StepTimeout.TotalSeconds * Stopwatch.Frequency);
        while (!done())
        {
            ct.ThrowIfCancellationRequested();
            if (Stopwatch.GetTimestamp() > deadline)
                return false;
            host.Poll();
        }
        return true;
    }

    private static int RoundTrips(RpmsgChannel channel, int count, int size, LongHistogram histogram, bool callerPolls, CancellationToken ct)
    {
        var endpoint = channel.Endpoint;
        byte[] payload = new byte[size];
        byte[] echo = new byte[endpoint.MaxPayload];
        long highest = histogram.HighestTrackableValue;
        for (int i = 0; i < count; i++)
        {
            ct.ThrowIfCancellationRequested();
            Fill(payload, i);
            long start = Stopwatch.GetTimestamp();
            endpoint.Send(payload, StepTimeout, ct);
            RpmsgReceiveResult received = default;
            bool arrived = callerPolls
                ? PollUntil(channel.Device, () => endpoint.TryReceive(echo, TimeSpan.Zero, out received), ct)
                : endpoint.TryReceive(echo, StepTimeout, out received, ct);
            if (!arrived)
                throw new CliFailure($"message {i}: no echo within {StepTimeout.TotalSeconds} s");
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (received.Source != channel.RemoteAddress)
                throw new CliFailure($"message {i}: the echo came from 0x{received.Source:X}, expected 0x{channel.RemoteAddress:X}");
            if (received.Length != size || !echo.AsSpan(0, received.Length).SequenceEqual(payload))
                throw new CliFailure($"message {i}: the echo differs from what was sent ({received.Length} bytes back for {size} sent)");
            histogram.RecordValue(Math.Min(elapsed, highest));
        }
        return count;
    }

    /// <summary>Content that differs per message and per byte, so a stale or shifted echo is caught.</summary>
    private static void Fill(Span<byte> payload, int sequence)
    {
        for (int j = 0; j < payload.Length; j++)
            payload[j] = (byte)((sequence * 131) + (j * 7) + (sequence >> 8));
        if (payload.Length >= sizeof(int))
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(payload, sequence);
    }

    private static string Microseconds(long ticks) =>
        (ticks * 1_000_000.0 / Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture);

    private static string FeatureNames(uint features)
    {
        var names = new List<string>();
        if ((features & VirtioFeatures.RpmsgNameService) != 0)
            names.Add("NS");
        if ((features & VirtioFeatures.EventIndex) != 0)
            names.Add("EVENT_IDX");
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    private static string WaitName(RpmsgWaitStrategy wait) => wait switch
    {
        RpmsgWaitStrategy.BusyPoll => "poll",
        RpmsgWaitStrategy.Hybrid => "hybrid",
        _ => "interrupt",
    };
}
