using System.CommandLine;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg dump</c>: links up, optionally exchanges a few echoes so the rings have moved, and prints the
/// host device's state (<see cref="Rpmsg.RpmsgDevice.Dump"/>: state, features, both vrings' indices, free tx
/// buffers, endpoints, channels, counters), plus the simulated remote's counters.
/// </summary>
internal static class DumpCommand
{
    public static Command Create()
    {
        var exchange = new Option<int>("--exchange")
        {
            Description = "Echo round trips (64 bytes) to run first, so the ring indices have moved.",
            DefaultValueFactory = _ => 0,
            HelpName = "N",
        };
        CliOptions.Check(exchange, value => value is < 0 or > 1_000_000 ? $"--exchange must be 0 to 1000000, not {value}" : null);
        var service = CliOptions.Service("Echo service that --exchange uses, as announced by the remote.");
        var settle = CliOptions.Settle();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("dump", "Print the device and ring state.")
        {
            exchange, service, settle, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("dump", v, ct => Run(parse.GetValue(exchange), parse.GetValue(service)!, TimeSpan.FromSeconds(parse.GetValue(settle)), parse.GetValue(platform), v, ct));
        });
        return command;
    }

    private static int Run(int exchange, string service, TimeSpan settle, FileInfo? platform, bool verbose, CancellationToken ct)
    {
        using var session = Announcements.Open("dump", platform, settle, verbose, ct, out _);
        var host = session.Host;
        if (exchange > 0)
        {
            var channel = HostLink.BindService(host, service, ct);
            EchoLoop.Run(channel, exchange, 64, EchoLoop.NewHistogram(), progress: null, ct);
        }
        Console.Write(host.Dump());
        if (session.Simulated is { } simulated)
            Console.WriteLine($"simulated remote (pid {simulated.ProcessId}): {simulated.Command("stats")}");
        return ExitCodes.Success;
    }
}
