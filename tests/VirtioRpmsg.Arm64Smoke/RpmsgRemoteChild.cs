using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Child side of <see cref="RpmsgChecks"/>: the simulated remote (virtio device side, echo service) in a
/// second process, through the Simulation package's <see cref="SimulatedRemoteChild"/>. Started by
/// <see cref="SimulatedRemoteProcess"/> as <c>VirtioRpmsg.Arm64Smoke rpmsg-remote remote --shm PATH --passing NAME ...</c>.
/// </summary>
public static class RpmsgRemoteChild
{
    public const string Mode = "rpmsg-remote";

    public static int Run(string[] args)
    {
        try
        {
            // Generous: under qemu the child's start-up is slow, though the host already listens.
            return SimulatedRemoteChild.Run(SimulatedRemoteChild.Parse(args) with { ConnectTimeout = TimeSpan.FromSeconds(120) });
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{Mode}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
