using System.CommandLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg remote</c>: runs the simulated remote (the virtio device side, with an echo service) in the
/// foreground. Two ways to meet a host:
/// <list type="bullet">
/// <item>With <c>--passing NAME</c> (how <see cref="SimulatedRemoteProcess"/> starts it): the host created the
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
        };
        var passing = new Option<string?>("--passing") { Description = "Abstract socket name of a host that passes the doorbells (set by the host that starts this remote)." };
        var services = new Option<string>("--services") { Description = "Services to announce: a comma-separated list of echo, sink; or none.", DefaultValueFactory = _ => "echo" };
        var noStdin = new Option<bool>("--no-stdin") { Description = "Do not read commands from stdin; run until Ctrl+C or until the host goes away." };
        var wait = CliOptions.Wait();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("remote", "Run the simulated remote (device side, echo service) in the foreground.")
        {
            shm, passing, services, noStdin, wait, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            var settings = new Settings(parse.GetValue(shm)!, parse.GetValue(passing), parse.GetValue(services)!, parse.GetValue(noStdin),
                parse.GetValue(wait), parse.GetValue(platform), v);
            return CliRunner.Run("remote", v, ct => Run(settings, ct));
        });
        return command;
    }

    private sealed record Settings(string Shm, string? Passing, string Services, bool NoStdin, string? Wait, FileInfo? Platform, bool Verbose);

    private static int Run(Settings s, CancellationToken ct)
    {
        var services = ParseServices(s.Services);
        ILogger log = s.Verbose ? new StderrLogger("remote") : NullLogger.Instance;
        bool createdFile = false;
        PlatformDescription description;
        if (s.Platform is not null)
        {
            description = PlatformDescription.Load(s.Platform.FullName) with { Role = PlatformRole.Remote };
        }
        else
        {
            var simulated = SimulatedPlatform.Description(s.Shm);
            // With a host (--passing) the host made the file: it must exist. Standalone, the remote makes it.
            createdFile = s.Passing is null && !File.Exists(s.Shm);
            description = simulated with
            {
                Role = PlatformRole.Remote,
                Regions = [simulated.Regions[0] with { Create = s.Passing is null }],
            };
        }
        try
        {
            using var resources = PlatformResources.Open(description, new PlatformOpenOptions { CancellationToken = ct });
            // The table goes in before the doorbell exchange: a host may read it as soon as it has connected.
            SimulatedRemote.WriteResourceTable(resources);
            var connection = s.Passing is null ? null : DescriptorPassing.Connect(s.Passing, ConnectTimeout, ct);
            IDoorbell doorbell;
            try
            {
                if (connection is null && description.Doorbell.Kind == PlatformDoorbellKind.Eventfd)
                    Console.WriteLine($"waiting for a host on socket @{description.Doorbell.Socket} (Ctrl+C to stop)");
                doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions
                {
                    Passing = connection,
                    Timeout = connection is null ? Timeout.InfiniteTimeSpan : ConnectTimeout,
                    CancellationToken = ct,
                });
            }
            catch
            {
                connection?.Dispose();
                throw;
            }
            // Reading stdin, the remote can be detached from and re-attached to (doorbells arrive on the
            // connection, so it is not watched: stdin EOF ends the remote when the host goes away).
            // Without stdin the connection is watched for the host going away.
            using var link = new SimulatedRemoteLink(resources, s.NoStdin ? null : connection, new SimulatedRemoteOptions
            {
                Services = services,
                WaitStrategy = CliOptions.ParseWait(s.Wait),
                HostConnection = s.NoStdin ? connection : null,
                Logger = log,
            });
            var remote = link.Start(doorbell);
            Console.WriteLine($"ENDPOINT command 0x{remote.CommandEndpoint.Address:X}");
            if (remote.EchoAddress != 0)
                Console.WriteLine($"ENDPOINT echo 0x{remote.EchoAddress:X}");
            if (remote.SinkAddress != 0)
                Console.WriteLine($"ENDPOINT sink 0x{remote.SinkAddress:X}");
            Console.WriteLine("READY");
            Console.Out.Flush();
            var quit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!s.NoStdin)
                StartCommandReader(new SimulatedRemoteCommands(link), quit);
            Task.WaitAny([quit.Task, link.Completion], ct);
            ct.ThrowIfCancellationRequested();
            return ExitCodes.Success;
        }
        finally
        {
            if (createdFile)
                File.Delete(s.Shm);
        }
    }

    /// <summary>Reads command lines on a background thread; EOF (the host went away) or "quit" completes <paramref name="quit"/>.</summary>
    private static void StartCommandReader(SimulatedRemoteCommands commands, TaskCompletionSource quit)
    {
        var reader = new Thread(() =>
        {
            SimulatedRemoteChild.Serve(commands, Console.In, Console.Out);
            quit.TrySetResult();
        })
        { IsBackground = true, Name = "remote-commands" };
        reader.Start();
    }

    private static SimulatedServices ParseServices(string text) =>
        SimulatedRemoteChild.TryParseServices(text, out var services, out string? unknown)
            ? services
            : throw new CliFailure($"--services: unknown service '{unknown}' (echo, sink, none)");
}
