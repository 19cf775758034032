using System.CommandLine;
using VirtioRpmsg.Lifecycle;
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
        var cpus = CliOptions.Cpus();
        var verbose = CliOptions.Verbose();
        var command = new Command("ping", "Measure round trips against an echo service: percentile table and histogram.")
        {
            count, size, wait, service, platform, baseline, cpus, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("ping", v, ct => Run(parse.GetValue(count), parse.GetValue(size), CliOptions.ParseWait(parse.GetValue(wait)), parse.GetValue(service)!,
                parse.GetValue(platform), parse.GetValue(baseline), CliOptions.ParseCpus(parse.GetValue(cpus)), v, ct));
        });
        return command;
    }

    private static int Run(int count, int size, RpmsgWaitStrategy wait, string service, FileInfo? platform, bool baseline, (int Host, int Remote)? cpus, bool verbose, CancellationToken ct)
    {
        using var session = HostLink.Open("ping", platform, wait, SimulatedServices.Echo, verbose, verbose ? Console.Error.WriteLine : null, ct, cpus: cpus);
        CliOptions.CheckSize(size, session.Host);
        var channel = HostLink.BindService(session.Host, service, ct);
        Console.WriteLine($"rpmsg ping: '{channel.Name}' at 0x{channel.RemoteAddress:X} from 0x{channel.LocalAddress:X}, {count} x {size} bytes, wait {HostLink.WaitName(wait)}");
        var histogram = EchoLoop.NewHistogram();
        var bar = !Console.IsOutputRedirected && count >= ProgressThreshold ? new ProgressBar(count) : null;
        int verified = EchoLoop.Run(channel, count, size, histogram, bar is null ? null : bar.Update, ct);
        bar?.Clear();
        Console.WriteLine($"verified {verified}/{count} echoes (content and source address checked)");
        LatencyPrinter.PercentileTable(histogram, Console.Out);
        LatencyPrinter.Histogram(histogram, Console.Out);
        if (baseline)
            PingBaseline.Print(histogram, wait, count, cpus ?? (0, 1), Console.Out);
        return ExitCodes.Success;
    }
}
