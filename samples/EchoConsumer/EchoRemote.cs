using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;

/// <summary>
/// The remote half of the demo (<c>EchoConsumer --remote --shm PATH --passing NAME ...</c>), started by
/// <see cref="SimulatedRemoteProcess"/> through <see cref="SelfLauncher"/>: maps the host's shared-memory
/// file, writes the resource table, takes the eventfd doorbells from the host's socket, announces the echo
/// service, prints READY and runs until its standard input closes (the host went away).
/// </summary>
internal static class EchoRemote
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    public static int Run(string[] args)
    {
        string? shm = null;
        string? passing = null;
        // SimulatedRemoteProcess passes "remote --shm PATH --passing NAME --services ... --wait ...";
        // this remote always echoes, interrupt-driven, so only the first two matter.
        for (int i = 1; i + 1 < args.Length; i++)
        {
            if (args[i] == "--shm")
                shm = args[i + 1];
            else if (args[i] == "--passing")
                passing = args[i + 1];
        }
        if (shm is null || passing is null)
        {
            Console.Error.WriteLine("EchoConsumer --remote: needs --shm PATH and --passing NAME");
            return 2;
        }
        var simulated = PlatformDescription.SimulatedDefault(shm);
        var description = simulated with { Role = PlatformRole.Remote, Regions = [simulated.Regions[0] with { Create = false }] };
        using var resources = PlatformResources.Open(description);
        // The table goes in before the doorbell exchange: the host reads it as soon as it has connected.
        SimulatedRemote.WriteResourceTable(resources);
        var connection = DescriptorPassing.Connect(passing, ConnectTimeout);
        using var doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Passing = connection, Timeout = ConnectTimeout });
        using var remote = SimulatedRemote.Start(resources, doorbell, new SimulatedRemoteOptions
        {
            Services = SimulatedServices.Echo,
            HostConnection = connection,
        });
        Console.WriteLine($"ENDPOINT command 0x{remote.CommandEndpoint.Address:X}");
        Console.WriteLine($"ENDPOINT echo 0x{remote.EchoAddress:X}");
        Console.WriteLine("READY");
        Console.Out.Flush();
        // Stdin EOF means the host closed it or died: never outlive it.
        var stdinClosed = Task.Run(() =>
        {
            while (Console.In.ReadLine() is not null)
            {
            }
        });
        Task.WaitAny(stdinClosed, remote.Completion);
        return 0;
    }
}
