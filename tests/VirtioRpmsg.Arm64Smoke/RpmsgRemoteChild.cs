using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Child side of <see cref="RpmsgChecks"/>: the simulated remote (virtio device side, echo service) in a
/// second process. Started by <see cref="SimulatedRemoteProcess"/> as
/// <c>VirtioRpmsg.Arm64Smoke rpmsg-remote remote --shm PATH --passing NAME ...</c>: maps the host's file,
/// writes the resource table, takes the eventfd doorbells over the host's socket, announces the echo
/// service, prints READY and echoes until its standard input closes.
/// </summary>
public static class RpmsgRemoteChild
{
    public const string Mode = "rpmsg-remote";
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(120);

    public static int Run(string[] args)
    {
        string? shm = null, passing = null;
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--shm")
                shm = args[i + 1];
            else if (args[i] == "--passing")
                passing = args[i + 1];
        }
        if (shm is null || passing is null)
        {
            Console.Error.WriteLine($"usage: {Mode} remote --shm PATH --passing NAME");
            return 2;
        }
        try
        {
            var simulated = PlatformDescription.SimulatedDefault(shm);
            var description = simulated with { Role = PlatformRole.Remote, Regions = [simulated.Regions[0] with { Create = false }] };
            using var resources = PlatformResources.Open(description);
            // The table goes in before the doorbell exchange: the host reads it as soon as it has connected.
            SimulatedRemote.WriteResourceTable(resources);
            var connection = DescriptorPassing.Connect(passing, ConnectTimeout);
            using var doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Passing = connection, Timeout = ConnectTimeout });
            using var remote = SimulatedRemote.Start(resources, doorbell, new SimulatedRemoteOptions { Services = SimulatedServices.Echo, HostConnection = connection });
            Console.WriteLine($"ENDPOINT command 0x{remote.CommandEndpoint.Address:X}");
            Console.WriteLine($"ENDPOINT echo 0x{remote.EchoAddress:X}");
            Console.WriteLine("READY");
            Console.Out.Flush();
            // Stdin EOF: the host closed it or died; never outlive it.
            var stdinClosed = Task.Run(() =>
            {
                while (Console.In.ReadLine() is not null)
                {
                }
            });
            Task.WaitAny(stdinClosed, remote.Completion);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{Mode}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
