using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg remote</c>: runs the simulated remote (the virtio device side, with an echo service) in the
/// foreground. Two ways to meet a host:
/// <list type="bullet">
/// <item>With <c>--passing NAME</c> (how <see cref="SimulatedRemoteProcess"/> starts it, this program being its default command): the host created the
/// shared-memory file and listens on abstract socket NAME; the remote connects, receives the eventfd doorbells,
/// and exits when its stdin closes (or, with <c>--no-stdin</c>, that connection): the host went away. Reading stdin it
/// can be detached from and re-attached to (<c>detach</c>/<c>attach</c> commands, doorbells over the connection).</item>
/// <item>Without it: the remote creates the file (deleting it on exit if it created it) and waits, without a time
/// limit, for a host on the description's socket ("vrpmsg:" + the file path).</item>
/// </list>
/// Stdout: "ENDPOINT name 0xADDR" lines, then "READY"; then one reply per command line read on stdin
/// (see <see cref="SimulatedRemoteCommands"/>). Stdin EOF or "quit" ends it (unless <c>--no-stdin</c>).
/// </summary>
internal static class RemoteCommand
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var shm = new Option<string>("--shm")
        {
            Description = "Shared-memory file of the simulated setup.",
            DefaultValueFactory = _ => "/dev/shm/vrpmsg-remote.shm",
            HelpName = "PATH",
        };
        var passing = new Option<string?>("--passing") { Description = "Abstract socket name of a host that passes the doorbells (set by the host that starts this remote).", HelpName = "NAME" };
        var services = new Option<string>("--services") { Description = "Services to announce: a comma-separated list of echo, sink; or none.", DefaultValueFactory = _ => "echo", HelpName = "echo,sink|none" };
        var echo = new Option<string[]>("--echo")
        {
            Description = "Announce the echo service under NAME (repeatable; default rpmsg-echo). The remote exits once the host has destroyed all of them.",
            AllowMultipleArgumentsPerToken = false,
            HelpName = "NAME",
        };
        // Refused at parse time (exit 2, nothing written): they failed only once the remote ran (exit 1).
        services.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } value && !SimulatedRemoteChild.TryParseServices(value, out _, out string? unknown))
                r.AddError($"--services must be a comma-separated list of echo, sink (or none); unknown service '{unknown}' in '{value}'");
        });
        echo.Validators.Add(r =>
        {
            foreach (string name in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (CliOptions.ServiceNameError(name) is { } why)
                    r.AddError($"--echo must be a service name of {why}, not '{name.Replace("\0", "\\0", StringComparison.Ordinal)}'");
            }
        });
        var vhostUser = new Option<string?>("--vhost-user") { Description = "Serve the services as a vhost-user rpmsg device (virtio id 7) on this Unix socket, e.g. to a User-Mode Linux kernel (virtio_uml.device=SOCKET:7); one guest at a time, a fresh device per guest.", HelpName = "SOCKET" };
        var noStdin = new Option<bool>("--no-stdin") { Description = "Do not read commands from stdin; run until Ctrl+C or until the host goes away." };
        var wait = CliOptions.Wait();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("remote", "Run the simulated remote (device side, echo service) in the foreground.")
        {
            shm, passing, services, echo, vhostUser, noStdin, wait, platform, verbose,
        };
        // The vhost-user device has one echo name, no shared file and no platform: those options would be ignored.
        command.Validators.Add(r =>
        {
            if (r.GetResult(vhostUser) is null)
                return;
            foreach (Option other in new Option[] { shm, passing, echo, platform })
            {
                if (r.GetResult(other) is { Implicit: false })
                    r.AddError($"--vhost-user serves its own device: {other.Name} does not apply to it");
            }
        });
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            var settings = new Settings(parse.GetValue(shm)!, parse.GetValue(passing), parse.GetValue(services)!, parse.GetValue(echo) ?? [], parse.GetValue(noStdin),
                parse.GetValue(wait), parse.GetValue(platform), v, parse.GetValue(vhostUser));
            return CliRunner.Run("remote", v, ct => Run(settings, ct));
        });
        return command;
    }

    private sealed record Settings(string Shm, string? Passing, string Services, string[] Echo, bool NoStdin, string? Wait, FileInfo? Platform, bool Verbose, string? VhostUser);

    // The options are parsed here for help and errors; the remote itself is the Simulation package's entry point.
    private static int Run(Settings s, CancellationToken ct) => s.VhostUser is { } socket
        ? SimulatedVhostUserRemote.Run(socket, new SimulatedRemoteOptions
        {
            Services = ParseServices(s.Services),
            WaitStrategy = CliOptions.ParseWait(s.Wait),
            Logger = s.Verbose ? new StderrLogger("remote") : NullLogger.Instance,
        }, s.NoStdin ? null : Console.In, Console.Out, ct)
        : SimulatedRemoteChild.Run(new SimulatedRemoteChildOptions
        {
            SharedMemoryPath = s.Shm,
            Passing = s.Passing,
            Services = ParseServices(s.Services),
            EchoNames = s.Echo.Length == 0 ? [SimulatedRemote.EchoServiceName] : s.Echo,
            WaitStrategy = CliOptions.ParseWait(s.Wait),
            ReadCommands = !s.NoStdin,
            PlatformFile = s.Platform?.FullName,
            ConnectTimeout = ConnectTimeout,
            Logger = s.Verbose ? new StderrLogger("remote") : NullLogger.Instance,
        }, Console.In, Console.Out, ct);

    private static SimulatedServices ParseServices(string text) =>
        SimulatedRemoteChild.TryParseServices(text, out var services, out string? unknown)
            ? services
            : throw new CliFailure($"--services: unknown service '{unknown}' (echo, sink, none)");
}
