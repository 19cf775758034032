using System.CommandLine;
using System.Globalization;
using HdrHistogram;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg demo</c>, the README's main job: start the simulated remote in a child process, bind its echo
/// service through the name service, send messages one round trip at a time, check every echo, and print
/// what happened with round-trip latency percentiles. Cleans up the child and the shared-memory file on
/// every exit path (Ctrl+C included).
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var count = CliOptions.Count(1000, "Messages to send; every echo is checked.");
        var size = CliOptions.Size();
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
        Console.WriteLine(platform is null ? "rpmsg demo: starting the simulated remote in a child process" : $"rpmsg demo: opening {platform.FullName}");
        using var session = HostLink.Open("demo", platform, wait, SimulatedServices.Echo, verbose, Console.WriteLine, ct);
        var host = session.Host;
        CliOptions.CheckSize(size, host);
        var channel = HostLink.BindService(host, SimulatedRemote.EchoServiceName, ct);
        Console.WriteLine($"channel '{PrintableText.Of(channel.Name)}' announced by the remote: local address 0x{channel.LocalAddress:X} -> remote address 0x{channel.RemoteAddress:X}");

        Console.WriteLine($"sending {count} messages of {size} bytes (different content each), one round trip at a time");
        var histogram = EchoLoop.NewHistogram();
        int verified = EchoLoop.Run(channel, count, size, histogram, progress: null, ct);
        Console.WriteLine($"verified {verified}/{count} echoes ({size} bytes each, content and source address checked)");
        Console.WriteLine("round-trip latency (us): " + string.Join("  ",
            new[] { ("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9) }
                .Select(p => $"{p.Item1} {EchoLoop.Microseconds(histogram.GetValueAtPercentile(p.Item2))}")
                .Append($"max {EchoLoop.Microseconds(histogram.GetMaxValue())}")));
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
}
