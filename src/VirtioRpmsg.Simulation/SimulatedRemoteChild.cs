using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// The child side of <see cref="SimulatedRemoteProcess"/>, for a program that runs itself as the remote
/// through <see cref="SimulatedRemoteProcessOptions.StartInfoFactory"/> (the package does not ship the
/// <c>rpmsg</c> CLI). Maps the host's shared-memory file, writes the resource table, takes the eventfd
/// doorbells over the host's socket, starts a <see cref="SimulatedRemote"/>, prints its endpoints and
/// READY, then serves <see cref="SimulatedRemoteCommands"/> from the input until it ends or says quit.
/// </summary>
/// <example>
/// <code>
/// if (args.Length &gt; 0 &amp;&amp; args[0] == "--remote")
///     return SimulatedRemoteChild.Run(args[1..]);
/// using var sim = SimulatedRemoteProcess.Start(new() { StartInfoFactory = a => /* this program, "--remote", then a */ });
/// </code>
/// </example>
public static class SimulatedRemoteChild
{
    /// <summary>
    /// Runs the remote with the arguments <see cref="SimulatedRemoteProcess"/> passes
    /// (<c>remote --shm PATH --passing NAME [--services echo,sink|none] [--wait interrupt|poll|hybrid]</c>;
    /// the leading <c>remote</c> is optional) and returns 0 once <paramref name="input"/> (default: stdin)
    /// ends, which happens when the host closes it or dies.
    /// </summary>
    /// <exception cref="ArgumentException">An argument is unknown, or <c>--shm</c> / <c>--passing</c> is missing.</exception>
    /// <exception cref="TimeoutException">The host's socket did not answer within <paramref name="connectTimeout"/> (default 30 s).</exception>
    public static int Run(IReadOnlyList<string> arguments, TextReader? input = null, TextWriter? output = null, TimeSpan? connectTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        input ??= Console.In;
        output ??= Console.Out;
        var timeout = connectTimeout ?? TimeSpan.FromSeconds(30);
        var (shm, passing, services, wait) = Parse(arguments);

        var simulated = SimulatedPlatform.Description(shm);
        var description = simulated with { Role = PlatformRole.Remote, Regions = [simulated.Regions[0] with { Create = false }] };
        using var resources = PlatformResources.Open(description);
        // The table goes in before the doorbell exchange: the host reads it as soon as it has connected.
        SimulatedRemote.WriteResourceTable(resources);
        var connection = DescriptorPassing.Connect(passing, timeout);
        IDoorbell doorbell;
        try
        {
            doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Passing = connection, Timeout = timeout });
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        using (doorbell)
        {
            using var remote = SimulatedRemote.Start(resources, doorbell, new SimulatedRemoteOptions { Services = services, WaitStrategy = wait, HostConnection = connection });
            output.WriteLine($"ENDPOINT command 0x{remote.CommandEndpoint.Address:X}");
            if (remote.EchoAddress != 0)
                output.WriteLine($"ENDPOINT echo 0x{remote.EchoAddress:X}");
            if (remote.SinkAddress != 0)
                output.WriteLine($"ENDPOINT sink 0x{remote.SinkAddress:X}");
            output.WriteLine("READY");
            output.Flush();
            var commands = new SimulatedRemoteCommands(remote);
            var reader = Task.Factory.StartNew(() => Serve(commands, input, output), TaskCreationOptions.LongRunning);
            Task.WaitAny(reader, remote.Completion);
            return 0;
        }
    }

    /// <summary>Answers command lines from <paramref name="input"/> until it ends or says quit (the CLI's remote uses it too).</summary>
    internal static void Serve(SimulatedRemoteCommands commands, TextReader input, TextWriter output)
    {
        try
        {
            string? line;
            while ((line = input.ReadLine()) is not null)
            {
                if (line.Length == 0)
                    continue;
                string reply = commands.Execute(line, out bool quit);
                output.WriteLine(reply);
                output.Flush();
                if (quit)
                    return;
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The input went away: the same as its end.
        }
    }

    private static (string Shm, string Passing, SimulatedServices Services, RpmsgWaitStrategy Wait) Parse(IReadOnlyList<string> arguments)
    {
        string? shm = null, passing = null;
        var services = SimulatedServices.Echo;
        var wait = RpmsgWaitStrategy.Interrupt;
        int i = arguments.Count > 0 && arguments[0] == "remote" ? 1 : 0;
        for (; i < arguments.Count; i += 2)
        {
            string name = arguments[i];
            if (i + 1 >= arguments.Count)
                throw new ArgumentException($"argument '{name}' needs a value", nameof(arguments));
            string value = arguments[i + 1];
            switch (name)
            {
                case "--shm":
                    shm = value;
                    break;
                case "--passing":
                    passing = value;
                    break;
                case "--services":
                    if (!TryParseServices(value, out services, out string? unknown))
                        throw new ArgumentException($"--services: unknown service '{unknown}' (echo, sink, none)", nameof(arguments));
                    break;
                case "--wait":
                    wait = value switch
                    {
                        "interrupt" => RpmsgWaitStrategy.Interrupt,
                        "poll" => RpmsgWaitStrategy.BusyPoll,
                        "hybrid" => RpmsgWaitStrategy.Hybrid,
                        _ => throw new ArgumentException($"--wait '{value}': expected interrupt, poll or hybrid", nameof(arguments)),
                    };
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{name}' (expected --shm, --passing, --services, --wait)", nameof(arguments));
            }
        }
        if (shm is null || passing is null)
            throw new ArgumentException($"--shm and --passing are required (got --shm {shm ?? "(missing)"}, --passing {passing ?? "(missing)"})", nameof(arguments));
        return (shm, passing, services, wait);
    }

    /// <summary>Parses a comma-separated list of echo, sink, none; false with the first unknown name otherwise.</summary>
    internal static bool TryParseServices(string text, out SimulatedServices services, out string? unknown)
    {
        services = SimulatedServices.None;
        unknown = null;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (name)
            {
                case "echo":
                    services |= SimulatedServices.Echo;
                    break;
                case "sink":
                    services |= SimulatedServices.Sink;
                    break;
                case "none":
                    break;
                default:
                    unknown = name;
                    return false;
            }
        }
        return true;
    }
}
