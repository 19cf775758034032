using System.CommandLine;
using System.Diagnostics;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg ping</c>: round trips against an echo service (the simulated remote's, or a real remote's with
/// <c>--platform</c>), one at a time, every echo checked; prints a percentile table and a text histogram.
/// Shows a progress bar on a terminal when the run is long.
/// </summary>
internal static class PingCommand
{
    /// <summary>Runs shorter than this many round trips finish too fast for a progress bar to help.</summary>
    private const int ProgressThreshold = 10_000;

    /// <summary>The default warm-up: the harness's echo cases warm up as long (docs/benchmarks.md).</summary>
    internal const int DefaultWarmupMilliseconds = 500;

    internal const int MaxWarmupMilliseconds = 60_000;

    public static Command Create()
    {
        var count = CliOptions.Count(1000, "Round trips; every echo is checked.");
        var size = CliOptions.Size();
        var wait = CliOptions.Wait();
        var service = CliOptions.Service("Echo service to ping, as announced by the remote.");
        var platform = CliOptions.Platform();
        var baseline = new Option<bool>("--baseline")
        {
            Description = "Afterwards run the C baseline (vrpmsg-pingpong: cache-line and eventfd ping-pong between two processes) and print the ping's p50 as ratios to it.",
        };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Echo for at least this many milliseconds before recording (checked, not recorded), and until the runtime has compiled the path: a .NET process starts on unoptimized code. 0 records from the first round trip.",
            DefaultValueFactory = _ => DefaultWarmupMilliseconds,
            HelpName = "MS",
        };
        CliOptions.Check(warmup, value => value is < 0 or > MaxWarmupMilliseconds ? $"--warmup must be 0 to {MaxWarmupMilliseconds} milliseconds, not {value}" : null);
        var inFlight = new Option<int>("--inflight")
        {
            Description = $"Messages kept in flight (1 to {PipelinedEcho.MaxInFlight}): each echo is checked in order and timed from its own send; the run also prints round trips per second. 1 is one at a time.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        CliOptions.Check(inFlight, value => value is < 1 or > PipelinedEcho.MaxInFlight ? $"--inflight must be 1 to {PipelinedEcho.MaxInFlight}, not {value}" : null);
        var cpus = CliOptions.Cpus();
        var verbose = CliOptions.Verbose();
        var command = new Command("ping", "Measure round trips against an echo service: percentile table and histogram.")
        {
            count, size, wait, service, platform, baseline, warmup, inFlight, cpus, verbose,
        };
        command.Validators.Add(r =>
        {
            // The baseline is one message at a time: a pipelined round trip includes its wait behind the others.
            // An --inflight that does not convert is the parser's error already.
            if (r.GetValue(baseline) && r.GetResult(inFlight) is { } window && CliOptions.TryGetValue(window, out int n) && n > 1)
                r.AddError($"--baseline compares one round trip at a time; it cannot be used with --inflight {n}");
        });
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("ping", v, ct => Run(parse.GetValue(count), parse.GetValue(size), CliOptions.ParseWait(parse.GetValue(wait)), parse.GetValue(service)!,
                parse.GetValue(platform), parse.GetValue(baseline), TimeSpan.FromMilliseconds(parse.GetValue(warmup)), parse.GetValue(inFlight), CliOptions.ParseCpus(parse.GetValue(cpus)), v, ct));
        });
        return command;
    }

    private static int Run(int count, int size, RpmsgWaitStrategy wait, string service, FileInfo? platform, bool baseline, TimeSpan warmup, int inFlight, (int Host, int Remote)? cpus, bool verbose, CancellationToken ct)
    {
        using var session = HostLink.Open("ping", platform, wait, SimulatedServices.Echo, verbose, verbose ? Console.Error.WriteLine : null, ct, cpus: cpus);
        CliOptions.CheckSize(size, session.Host);
        var channel = HostLink.BindService(session.Host, service, ct);
        Console.WriteLine($"rpmsg ping: '{PrintableText.Of(channel.Name)}' at 0x{channel.RemoteAddress:X} from 0x{channel.LocalAddress:X}, {count} x {size} bytes, wait {HostLink.WaitName(wait)}{(inFlight > 1 ? $", {inFlight} in flight" : "")}");
        var exchange = new EchoLoop.Exchange(channel, size);
        long started = Stopwatch.GetTimestamp();
        int warm = EchoLoop.WarmUp(exchange, warmup, ct);
        if (warm > 0)
            Console.WriteLine($"warm-up: {warm} round trips in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.00} s, checked, not recorded (--warmup 0 records from the first)");
        var histogram = EchoLoop.NewHistogram();
        var bar = !Console.IsOutputRedirected && count >= ProgressThreshold ? new ProgressBar(count) : null;
        long measured = Stopwatch.GetTimestamp();
        int verified = inFlight > 1
            ? new PipelinedEcho(channel, size, inFlight).Run(exchange.Sequence, count, histogram, bar is null ? null : bar.Update, ct)
            : EchoLoop.Run(exchange, count, histogram, bar is null ? null : bar.Update, ct);
        double seconds = Stopwatch.GetElapsedTime(measured).TotalSeconds;
        bar?.Clear();
        Console.WriteLine($"verified {verified}/{count} echoes (content and source address checked{(inFlight > 1 ? ", in order" : "")})");
        Console.WriteLine($"{verified / seconds:0} round trips/s ({seconds:0.000} s)");
        if (verbose)
            Console.Error.WriteLine($"  {EchoLoop.DeviceCounters(channel.Device)} tx-buffer-waits={channel.Device.Counters.TxBufferWaits}");
        LatencyPrinter.PercentileTable(histogram, Console.Out);
        LatencyPrinter.Histogram(histogram, Console.Out);
        if (baseline)
            PingBaseline.Print(histogram, wait, count, cpus ?? (0, 1), Console.Out);
        return ExitCodes.Success;
    }
}
