using System.CommandLine;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg list</c>: links up, collects the services the remote announces, binds each one as a channel and
/// prints the device, its channels and its endpoints. Against the simulated remote (echo and sink services)
/// it waits for exactly the services the remote reported; with <c>--platform</c> it waits <c>--settle</c>.
/// </summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var settle = CliOptions.Settle();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("list", "List the channels (services announced by the remote) and endpoints of the device.")
        {
            settle, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("list", v, ct => Run(TimeSpan.FromSeconds(parse.GetValue(settle)), parse.GetValue(platform), v, ct));
        });
        return command;
    }

    private static int Run(TimeSpan settle, FileInfo? platform, bool verbose, CancellationToken ct)
    {
        using var session = Announcements.Open("list", platform, settle, verbose, ct, out var services);
        var host = session.Host;
        // Bound services become channels: each gets a local endpoint paired with the remote address.
        foreach (string name in services.Select(s => s.Name).Distinct())
            host.RegisterDriver(new RpmsgServiceDriver(name));
        Console.WriteLine($"device '{host.Name}': role {host.Role}, state {host.State}, features 0x{host.NegotiatedFeatures:X8} ({HostLink.FeatureNames(host.NegotiatedFeatures)}), max payload {host.MaxPayload} bytes");
        var channels = host.Channels;
        Console.WriteLine($"channels ({channels.Count}):");
        foreach (var channel in channels.OrderBy(c => c.RemoteAddress))
            Console.WriteLine($"  {PrintableText.Of(channel.Name),-24} local 0x{channel.LocalAddress:X} -> remote 0x{channel.RemoteAddress:X}");
        var endpoints = host.Endpoints;
        Console.WriteLine($"endpoints ({endpoints.Count}):");
        foreach (var endpoint in endpoints)
            Console.WriteLine($"  0x{endpoint.Address:X}{(endpoint.Address == RpmsgAddress.NameService ? " name service" : endpoint.Channel is { } ch ? $" channel '{PrintableText.Of(ch.Name)}'" : "")}");
        if (session.Simulated is { } simulated)
        {
            Console.WriteLine("remote endpoints (as the simulated remote reported them):");
            foreach (var (name, address) in simulated.RemoteEndpoints.OrderBy(e => e.Value))
                Console.WriteLine($"  0x{address:X} {name}");
        }
        return ExitCodes.Success;
    }
}
